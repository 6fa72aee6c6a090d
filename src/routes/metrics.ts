import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

/** /metrics in the Prometheus text format. */
const metricsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/metrics', {
    schema: {
      tags: ['metrics'],
      summary: 'Prometheus metrics',
      description: 'Sessions by state; per session: datagrams, events, losses by where, drops by reason, open streams and stage histograms; and the process\'s own.',
      response: { 200: { description: 'Prometheus text format 0.0.4', content: { 'text/plain': { schema: Type.String() } } } }
    }
  }, async (_request, reply) => reply.type(app.metrics.contentType).send(await app.metrics.metrics()))
}

export default metricsRoutes

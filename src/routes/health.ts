import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

/** Liveness: answers while the process serves HTTP; never needs a token. */
const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    schema: {
      tags: ['health'],
      summary: 'Liveness',
      response: { 200: Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false }) }
    }
  }, async () => ({ status: 'ok' as const }))
}

export default healthRoutes

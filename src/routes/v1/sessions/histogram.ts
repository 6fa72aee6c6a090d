import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses, SessionNotFound } from '../../../errors.js'
import { SessionParams } from '../../../schemas/common.js'
import { Histogram } from '../../../schemas/histogram.js'

/** /v1/sessions/{id}/histogram: per-stage latency distributions over every matching datagram. */
const histogramRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/:id/histogram', {
    schema: {
      tags: ['sessions'],
      summary: 'Per-stage histograms and percentiles',
      description: 'log2 buckets summed over every CPU by the loader about once a second, over every matching datagram whether slow or not.',
      params: SessionParams,
      response: { 200: Histogram, ...problemResponses(SessionNotFound) }
    }
  }, async (request) => app.sessions.get(request.params.id).histogram())
}

export default histogramRoutes

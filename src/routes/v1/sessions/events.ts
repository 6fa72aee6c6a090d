import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { SessionParams } from '../../../schemas/common.js'
import { EVENTS_QUERY_DEFAULTS, EventPage, EventsQuery } from '../../../schemas/event.js'
import { problemResponses } from '../../../schemas/problem.js'

/** /v1/sessions/{id}/events: cursor polling over the session's buffered events. */
const eventRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/:id/events', {
    schema: {
      tags: ['events'],
      summary: 'Read events after a cursor',
      description: 'Events are numbered from 1 per session. Pass the returned `nextAfter` as `after` to continue; `evicted` counts the events after the cursor that the bounded buffer no longer holds.',
      params: SessionParams,
      querystring: EventsQuery,
      response: { 200: EventPage, ...problemResponses(400, 404, 500) }
    }
  }, async (request) => {
    const { after = EVENTS_QUERY_DEFAULTS.after, limit = EVENTS_QUERY_DEFAULTS.limit } = request.query
    const page = app.sessions.get(request.params.id).events.read(after, limit)
    return { events: page.items, nextAfter: page.nextAfter, evicted: page.evicted }
  })
}

export default eventRoutes

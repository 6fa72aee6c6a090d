import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { problemResponses, SessionNotFound, ValidationFailed } from '../../../errors.js'
import { SessionParams } from '../../../schemas/common.js'
import { EVENTS_QUERY_DEFAULTS, EventPage, EventsQuery, SSE_DESCRIPTION, StreamHeaders, StreamQuery } from '../../../schemas/event.js'
import { eventPage } from '../../../sessions/event-page.js'
import { EventStream } from '../../../sessions/event-stream.js'
import type { Session } from '../../../sessions/session.js'
import { wantsEventStream } from './accept.js'

const EVENT_STREAM = 'text/event-stream'
const streamContent = { [EVENT_STREAM]: { schema: Type.String({ description: SSE_DESCRIPTION }) } }
const noMoreEvents = Type.Null({ description: 'Stream only: the session has ended and no event follows the cursor (EventSource then stops reconnecting)' })

/**
 * The cursor a request reads after: Last-Event-ID for a stream when given, else `after`. Never past the last
 * event: the session gave no such seq, and a page or stream from it would wait for events it would then skip.
 */
function cursor (session: Session, after: number, lastEventId: number | undefined): number {
  const [field, value] = lastEventId === undefined ? ['querystring/after', after] : ['headers/last-event-id', lastEventId]
  const { lastSeq } = session.events
  if (value > lastSeq) throw new ValidationFailed(`${field} is ${value}, past the session's last event (seq ${lastSeq})`)
  return value
}

/** /v1/sessions/{id}/events: cursor polling, long-polling and Server-Sent Events over the session's buffered events. */
const eventRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { heartbeatMs } = app.config

  function stream (request: FastifyRequest, reply: FastifyReply, session: Session, after: number): FastifyReply {
    // Nothing will ever follow: 204 tells EventSource not to reconnect.
    if (!session.active && after >= session.events.lastSeq) return reply.code(204).send()
    reply
      .header('content-type', `${EVENT_STREAM}; charset=utf-8`)
      .header('cache-control', 'no-cache')
      .header('x-accel-buffering', 'no')
    // HEAD gets the headers only: a stream made for it would have no client to end it.
    if (request.method === 'HEAD') return reply.send()
    const events = new EventStream(session, after, heartbeatMs)
    reply.raw.once('close', () => events.destroy())
    return reply.send(events)
  }

  app.get('/:id/events', {
    schema: {
      tags: ['events'],
      summary: 'Read events after a cursor, or stream them',
      description: [
        'Events are numbered from 1 per session.',
        'As JSON: pass the returned `nextAfter` as `after` to continue; `evicted` counts the events after the cursor that the bounded buffer no longer holds; `waitMs` long-polls.',
        `With \`Accept: ${EVENT_STREAM}\`: a stream from \`after\` or \`Last-Event-ID\`, as GET /v1/sessions/{id}/events/stream.`
      ].join(' '),
      params: SessionParams,
      querystring: EventsQuery,
      headers: StreamHeaders,
      response: {
        200: { description: 'A page of events, or a stream', content: { 'application/json': { schema: EventPage }, ...streamContent } },
        204: noMoreEvents,
        ...problemResponses(SessionNotFound)
      }
    }
  }, async (request, reply) => {
    const session = app.sessions.get(request.params.id)
    const { after = EVENTS_QUERY_DEFAULTS.after, limit = EVENTS_QUERY_DEFAULTS.limit, waitMs = EVENTS_QUERY_DEFAULTS.waitMs } = request.query
    if (wantsEventStream(request.headers.accept)) return stream(request, reply, session, cursor(session, after, request.headers['last-event-id']))

    const from = cursor(session, after, undefined)
    let window = session.events.window(from, limit)
    if (window.last < window.first && waitMs > 0 && session.active) {
      const closed = new AbortController()
      reply.raw.once('close', () => closed.abort())
      const deadline = Date.now() + waitMs
      while (window.last < window.first && session.active && await session.changes.wait(deadline - Date.now(), closed.signal)) {
        window = session.events.window(from, limit)
      }
    }
    // Already the EventPage schema's JSON: Fastify sends a Buffer as it is (the type provider only knows strings and objects).
    return reply.type('application/json').send(eventPage(session, window) as unknown as string)
  })

  app.get('/:id/events/stream', {
    schema: {
      tags: ['events'],
      summary: 'Stream events (Server-Sent Events)',
      description: 'The stream starts after `after`, or after `Last-Event-ID` when given (EventSource sends it when it reconnects).',
      params: SessionParams,
      querystring: StreamQuery,
      headers: StreamHeaders,
      response: {
        200: { description: 'The stream', content: streamContent },
        204: noMoreEvents,
        ...problemResponses(SessionNotFound)
      }
    }
  }, async (request, reply) => {
    const session = app.sessions.get(request.params.id)
    return stream(request, reply, session, cursor(session, request.query.after ?? EVENTS_QUERY_DEFAULTS.after, request.headers['last-event-id']))
  })
}

export default eventRoutes

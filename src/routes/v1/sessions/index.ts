import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import {
  BadRequest, BodyTooLarge, BufferLimit, LoaderFailed, NotReady, problemResponses, SessionDeleted, SessionLimit, SessionNotFound, UnsupportedMediaType,
  ValidationFailed
} from '../../../errors.js'
import { ref, SessionParams } from '../../../schemas/common.js'
import { CreateSession, ListSessionsQuery, Session, SessionList } from '../../../schemas/session.js'

/** /v1/sessions and /v1/sessions/{id}. */
const sessionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: {
      tags: ['sessions'],
      summary: 'Start a session',
      description: 'Answers once the probes are attached (state `running`), or with a problem that says why they could not be, leaving nothing behind. ' +
        'The body is JSON (`application/json`), `{}` for every default; a request without one is a 415.',
      body: CreateSession,
      response: {
        201: {
          ...ref(Session),
          description: 'The running session',
          headers: { location: { type: 'string', description: 'The session\'s URL' } }
        },
        ...problemResponses(ValidationFailed, BadRequest, SessionDeleted, BodyTooLarge, UnsupportedMediaType, SessionLimit, BufferLimit, LoaderFailed, NotReady)
      }
    }
  }, async (request, reply) => {
    // Its loader would wait for a hub that does not answer: say so at once.
    const silence = app.hub.silence
    if (silence !== null) throw new NotReady(silence)
    const session = await app.sessions.create(request.body)
    return reply.code(201).header('location', `/v1/sessions/${session.id}`).send(session.toResource())
  })

  app.get('', {
    schema: {
      tags: ['sessions'],
      summary: 'List sessions',
      querystring: ListSessionsQuery,
      response: { 200: SessionList }
    }
  }, async (request) => ({ sessions: app.sessions.list(request.query.state).map((session) => session.toResource()) }))

  app.get('/:id', {
    schema: {
      tags: ['sessions'],
      summary: 'Get a session, with its current counts',
      params: SessionParams,
      response: { 200: ref(Session), ...problemResponses(SessionNotFound) }
    }
  }, async (request) => app.sessions.get(request.params.id).toResource())

  app.delete('/:id', {
    schema: {
      tags: ['sessions'],
      summary: 'Stop a session and remove it',
      description: 'Stops the probes, waits for the loader to exit, and forgets the session and its events.',
      params: SessionParams,
      // A body is not expected, but one with a content type is parsed like any other.
      response: { 204: Type.Null({ description: 'Stopped and removed' }), ...problemResponses(SessionNotFound, BodyTooLarge, UnsupportedMediaType) }
    }
  }, async (request, reply) => {
    await app.sessions.delete(request.params.id)
    return reply.code(204).send(null)
  })
}

export default sessionRoutes

import createError from '@fastify/error'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { PROBLEM_CONTENT_TYPE, type Problem } from './schemas/problem.js'

const TITLES = new Map<string, string>()

/** Declares an error with a stable code; its message (printf-style) becomes the problem's detail. */
function problem<Args extends unknown[]> (code: string, statusCode: number, title: string, message: string) {
  TITLES.set(code, title)
  return createError<string, Args>(code, message, statusCode)
}

export const ValidationFailed = problem<[string]>('UDPLAT_VALIDATION', 400, 'Invalid request', '%s')
export const BadRequest = problem<[string]>('UDPLAT_BAD_REQUEST', 400, 'Bad request', '%s')
export const Unauthorized = problem<[]>('UDPLAT_UNAUTHORIZED', 401, 'Unauthorized', 'a valid bearer token is required')
export const RouteNotFound = problem<[string, string]>('UDPLAT_ROUTE_NOT_FOUND', 404, 'Route not found', 'no route for %s %s')
export const SessionNotFound = problem<[string]>('UDPLAT_SESSION_NOT_FOUND', 404, 'Session not found', 'no session with id %s')
export const SessionLimit = problem<[number]>('UDPLAT_SESSION_LIMIT', 429, 'Too many sessions',
  'at most %d sessions may be active at once (UDPLAT_MAX_SESSIONS)')
export const BufferLimit = problem<[number, number]>('UDPLAT_BUFFER_LIMIT', 429, 'Event buffer limit reached',
  'bufferEvents %d exceeds the %d events left under UDPLAT_MAX_BUFFERED_EVENTS')
export const LoaderFailed = problem<[string]>('UDPLAT_LOADER_FAILED', 503, 'The loader could not attach the probes', '%s')
export const Internal = problem<[]>('UDPLAT_INTERNAL', 500, 'Internal error', 'internal error')

/** Turns any error into problem details; only errors declared above keep their detail at 5xx. */
export function toProblem (error: FastifyError, request: FastifyRequest): Problem {
  const known = TITLES.has(error.code) ? error : fromFramework(error)
  const status = known.statusCode ?? 500
  return {
    type: `urn:udplat:problem:${known.code.replace(/^UDPLAT_/, '').toLowerCase().replaceAll('_', '-')}`,
    title: TITLES.get(known.code) ?? 'Error',
    status,
    detail: known.message,
    instance: request.url.split('?')[0] ?? request.url,
    code: known.code
  }
}

function fromFramework (error: FastifyError): FastifyError {
  if (error.validation) {
    const [first] = error.validation
    const extra = first?.params as { additionalProperty?: string } | undefined
    const field = `${error.validationContext ?? ''}${first?.instancePath ?? ''}${extra?.additionalProperty ? `/${extra.additionalProperty}` : ''}`
    return new ValidationFailed(`${field} ${first?.message ?? 'is invalid'}`)
  }
  const status = error.statusCode ?? 500
  if (status >= 400 && status < 500) return Object.assign(new BadRequest(error.message), { statusCode: status })
  return new Internal()
}

export function sendProblem (reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem)
}

/** Every error and every unknown route answers with application/problem+json. */
export function setProblemHandlers (app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const problem = toProblem(error, request)
    if (problem.status >= 500) request.log.error({ err: error }, problem.detail)
    return sendProblem(reply, problem)
  })
  app.setNotFoundHandler((request, reply) => sendProblem(reply, toProblem(new RouteNotFound(request.method, request.url), request)))
}

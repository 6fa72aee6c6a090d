import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import createError from '@fastify/error'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify'
import { TEXT_PATTERN } from './schemas/common.js'
import { PROBLEM_CONTENT_TYPE, problemSchema, type ProblemDetails } from './schemas/problem.js'

/** What the OpenAPI document says about one kind of problem. */
export interface ProblemKind {
  readonly code: string
  readonly statusCode: number
  readonly title: string
}

const KINDS = new Map<string, ProblemKind>()

/** Declares an error with a stable code; its message (printf-style) becomes the problem's detail. */
function problem<Args extends unknown[]> (code: string, statusCode: number, title: string, message: string) {
  const kind = { code, statusCode, title }
  KINDS.set(code, kind)
  return Object.assign(createError<string, Args>(code, message, statusCode), { kind })
}

export const ValidationFailed = problem<[string]>('UDPLAT_VALIDATION', 400, 'Invalid request', '%s')
export const BadRequest = problem<[string]>('UDPLAT_BAD_REQUEST', 400, 'Bad request', '%s')
export const Unauthorized = problem<[]>('UDPLAT_UNAUTHORIZED', 401, 'Unauthorized', 'a valid bearer token is required')
export const OriginForbidden = problem<[string]>('UDPLAT_ORIGIN_FORBIDDEN', 403, 'Cross-origin request refused',
  'requests from pages of %s are refused: the API answers its own pages, and those of the origins in UDPLAT_ALLOWED_ORIGINS')
export const RouteNotFound = problem<[string, string]>('UDPLAT_ROUTE_NOT_FOUND', 404, 'Route not found', 'no route for %s %s')
export const SessionNotFound = problem<[string]>('UDPLAT_SESSION_NOT_FOUND', 404, 'Session not found', 'no session with id %s')
export const MethodNotAllowed = problem<[string, string, string]>('UDPLAT_METHOD_NOT_ALLOWED', 405, 'Method not allowed', '%s is not a method of %s, which takes %s')
export const SessionDeleted = problem<[string]>('UDPLAT_SESSION_DELETED', 409, 'Session deleted while starting',
  'session %s was deleted before its probes were attached')
export const BodyTooLarge = problem<[string]>('UDPLAT_BODY_TOO_LARGE', 413, 'Request body too large', '%s')
export const UnsupportedMediaType = problem<[string]>('UDPLAT_UNSUPPORTED_MEDIA_TYPE', 415, 'Unsupported media type', '%s')
export const MisdirectedRequest = problem<[string]>('UDPLAT_MISDIRECTED_REQUEST', 421, 'Not this service\'s host',
  'this service does not answer for host %s: it answers for localhost, IP addresses, its own name, and those in UDPLAT_ALLOWED_HOSTS')
export const SessionLimit = problem<[number]>('UDPLAT_SESSION_LIMIT', 429, 'Too many sessions',
  'at most %d sessions may be active at once (UDPLAT_MAX_SESSIONS)')
export const BufferLimit = problem<[number, number]>('UDPLAT_BUFFER_LIMIT', 429, 'Event buffer limit reached',
  'bufferEvents %d exceeds the %d events left under UDPLAT_MAX_BUFFERED_EVENTS')
export const Internal = problem<[]>('UDPLAT_INTERNAL', 500, 'Internal error', 'internal error')
export const LoaderFailed = problem<[string]>('UDPLAT_LOADER_FAILED', 503, 'The loader could not attach the probes', '%s')
export const LoaderUnavailable = problem<[string]>('UDPLAT_LOADER_UNAVAILABLE', 503, 'The loader cannot describe this host', '%s')
export const NotReady = problem<[string]>('UDPLAT_NOT_READY', 503, 'Not ready to start sessions', '%s')

/** The Problem schema, its `code` limited to the codes declared above. */
export const Problem = problemSchema([...KINDS.keys()])

/** The framework's own errors that keep a status and code of their own. */
const FRAMEWORK_ERRORS: Record<string, (message: string) => FastifyError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: (message) => new BodyTooLarge(message),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: (message) => new UnsupportedMediaType(message)
}

/** Turns any error into problem details; only errors declared above keep their detail at 5xx. */
export function toProblem (error: FastifyError, request: FastifyRequest): ProblemDetails {
  const known = KINDS.has(error.code) ? error : fromFramework(error)
  const status = known.statusCode ?? 500
  return {
    type: problemType(known.code),
    title: KINDS.get(known.code)?.title ?? 'Error',
    status,
    detail: known.message,
    instance: request.url.split('?')[0] ?? request.url,
    code: known.code
  }
}

const problemType = (code: string) => `urn:udplat:problem:${code.replace(/^UDPLAT_/, '').toLowerCase().replaceAll('_', '-')}`

function fromFramework (error: FastifyError): FastifyError {
  if (error.validation) {
    const [first] = error.validation
    const extra = first?.params as { additionalProperty?: string, pattern?: string } | undefined
    const field = `${error.validationContext ?? ''}${first?.instancePath ?? ''}${extra?.additionalProperty ? `/${extra.additionalProperty}` : ''}`
    const message = extra?.pattern === TEXT_PATTERN ? 'must be Unicode text without NUL (a lone surrogate is not Unicode)' : first?.message
    return new ValidationFailed(`${field} ${message ?? 'is invalid'}`)
  }
  const framework = FRAMEWORK_ERRORS[error.code]
  if (framework !== undefined) return framework(error.message)
  const status = error.statusCode ?? 500
  if (status >= 400 && status < 500) return Object.assign(new BadRequest(error.message), { statusCode: status })
  return new Internal()
}

/**
 * Documents a route's error responses, one per status, naming every code it may answer with:
 * `...problemResponses(ValidationFailed, SessionNotFound)`.
 */
export function problemResponses (...errors: Array<{ kind: ProblemKind }>): Record<number, unknown> {
  const byStatus = new Map<number, ProblemKind[]>()
  for (const { kind } of [...errors, Internal]) byStatus.set(kind.statusCode, [...(byStatus.get(kind.statusCode) ?? []), kind])
  return Object.fromEntries([...byStatus].map(([status, kinds]) => [status, {
    description: kinds.map((kind) => `\`${kind.code}\`: ${kind.title}`).join('; '),
    content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: 'Problem#' } } }
  }]))
}

export function sendProblem (reply: FastifyReply, problem: ProblemDetails): FastifyReply {
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem)
}

/** Every error and every unknown route answers with application/problem+json. */
export function setProblemHandlers (app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const problem = toProblem(error, request)
    // A declared 5xx (a loader that failed) is news for the operator; anything else is a bug, with its stack.
    if (problem.code === Internal.kind.code) request.log.error({ err: error }, 'internal error')
    else if (problem.status >= 500) request.log.warn({ code: problem.code }, problem.detail)
    return sendProblem(reply, problem)
  })
  app.setNotFoundHandler((request, reply) => {
    // A route that takes other methods: 405 with them; one that takes this method found nothing (an unknown asset).
    const allowed = app.allowedMethods(request.url)
    if (allowed.length === 0 || allowed.includes(request.method)) return sendProblem(reply, toProblem(new RouteNotFound(request.method, request.url), request))
    const problem = toProblem(new MethodNotAllowed(request.method, request.url.split('?')[0] ?? request.url, allowed.join(', ')), request)
    return sendProblem(reply.header('allow', allowed.join(', ')), problem)
  })
}

/** Errors Fastify meets before routing: a malformed percent-encoding in the path, a path parameter past the router's limit. */
function frameworkErrors (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const problem = error.code === 'FST_ERR_MAX_PARAM_LENGTH'
    ? new ValidationFailed('params: a path parameter is longer than any valid one')
    : new BadRequest('the URL is malformed')
  void sendProblem(reply, toProblem(problem, request))
}

/** A request the HTTP parser rejects (bad request line or header, headers too large, timeout): answered, then closed. */
function clientErrorHandler (err: NodeJS.ErrnoException, socket: Socket): void {
  // A connection reset has nothing left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
  const body = JSON.stringify({
    type: problemType(BadRequest.kind.code),
    title: BadRequest.kind.title,
    status,
    detail: `the HTTP request is malformed: ${STATUS_CODES[status]}`,
    instance: '',
    code: BadRequest.kind.code
  })
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
  }
  socket.destroy(err)
}

/**
 * Fastify constructor options that make the answers given before any route (see above) problem+json too:
 * pass them to buildApp's `serverOptions`.
 */
export const problemServerOptions: Pick<FastifyServerOptions, 'frameworkErrors' | 'clientErrorHandler'> = { frameworkErrors, clientErrorHandler }

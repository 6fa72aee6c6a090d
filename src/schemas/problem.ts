import { Type, type Static } from 'typebox'

/** RFC 9457 problem details, the body of every error response. */
export const Problem = Type.Object({
  type: Type.String({ description: 'URI naming the kind of problem', examples: ['urn:udplat:problem:session-not-found'] }),
  title: Type.String({ description: 'Short summary of the kind of problem' }),
  status: Type.Integer({ description: 'HTTP status code' }),
  detail: Type.String({ description: 'What went wrong this time' }),
  instance: Type.String({ description: 'The request path' }),
  code: Type.String({ description: 'Stable machine-readable code', examples: ['UDPLAT_SESSION_NOT_FOUND'] })
}, { $id: 'Problem', additionalProperties: false })

export type Problem = Static<typeof Problem>

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

const STATUS_DESCRIPTIONS: Record<number, string> = {
  400: 'The request is invalid',
  401: 'A valid bearer token is required',
  404: 'No such session',
  429: 'A limit of the service would be exceeded',
  500: 'Internal error',
  503: 'The loader could not attach the probes'
}

/** Documents error responses: `...problemResponses(404)` in a route's `response`. */
export function problemResponses (...statuses: number[]): Record<number, unknown> {
  return Object.fromEntries(statuses.map((status) => [status, {
    description: STATUS_DESCRIPTIONS[status] ?? 'Error',
    content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: 'Problem#' } } }
  }]))
}

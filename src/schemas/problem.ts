import { Type, type Static } from 'typebox'

/** RFC 9457 problem details, the body of every error response; `codes` lists every code the service uses. */
export const problemSchema = (codes: string[]) => Type.Object({
  type: Type.String({ description: 'URI naming the kind of problem', examples: ['urn:udplat:problem:session-not-found'] }),
  title: Type.String({ description: 'Short summary of the kind of problem' }),
  status: Type.Integer({ description: 'HTTP status code' }),
  detail: Type.String({ description: 'What went wrong this time' }),
  instance: Type.String({ description: 'The request path' }),
  code: Type.Enum(codes, { description: 'Stable machine-readable code' })
}, { $id: 'Problem', additionalProperties: false })

export type ProblemDetails = Static<ReturnType<typeof problemSchema>>

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

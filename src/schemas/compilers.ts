import { AjvCompiler, type BuildCompilerFromPool } from '@fastify/ajv-compiler'
import { SerializerSelector, type SerializerFactory } from '@fastify/fast-json-stringify-compiler'
import type { FastifyServerOptions } from 'fastify'
import { addFormats, FORMATS } from './formats.js'

const ajvCompiler = AjvCompiler()

/** What fastify passes to a validator compiler (@fastify/ajv-compiler's types say otherwise). */
type CompileValidator = (route: { httpPart?: string, schema?: unknown }) => unknown

/**
 * Query strings, params and headers are text, so their schemas coerce ("5" is 5); a JSON body
 * says what it means, so "250" where a number belongs is an error.
 */
const buildValidator: BuildCompilerFromPool = (externalSchemas, options = {}) => {
  const coercing = ajvCompiler(externalSchemas, options) as unknown as CompileValidator
  const strictOptions = { ...options, customOptions: { ...options.customOptions, coerceTypes: false } } as typeof options
  const strict = ajvCompiler(externalSchemas, strictOptions) as unknown as CompileValidator
  const compile: CompileValidator = (route) => route.httpPart === 'body'
    ? strict(route)
    : decimalText(route.schema, coercing(route) as Validate)
  return compile as unknown as ReturnType<BuildCompilerFromPool>
}

type Validate = ((data: unknown) => boolean) & { errors?: unknown[] | null }

const DECIMAL = { integer: /^(0|-?[1-9][0-9]*)$/, number: /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/ } as const

/**
 * Ajv coerces any text that Number() reads: "0x10" is 16, "1e400" Infinity (past every minimum and
 * maximum), "  5" 5. Text stands for a number here only when written in plain decimal.
 */
function decimalText (schema: unknown, validate: Validate): Validate {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties ?? {}
  const numeric = Object.entries(properties).flatMap(([name, { type }]) =>
    type === 'integer' || type === 'number' ? [[name, DECIMAL[type]] as const] : [])
  const checked: Validate = (data) => {
    const fields = typeof data === 'object' && data !== null ? data as Record<string, unknown> : {}
    const bad = numeric.find(([name, pattern]) => typeof fields[name] === 'string' && !pattern.test(fields[name]))
    if (bad !== undefined) {
      checked.errors = [{ instancePath: `/${bad[0]}`, schemaPath: '#', keyword: 'type', params: {}, message: 'must be a number in plain decimal' }]
      return false
    }
    const valid = validate(data)
    checked.errors = validate.errors
    return valid
  }
  return checked
}

const serializerFactory = SerializerSelector()

/**
 * Fastify's serializers, each compiled when its response is first sent rather than at start: most
 * (route, status) pairs, the problem responses above all, never are, and compiling them all kept
 * about 3 MiB resident (bench/RESULTS.md, memory).
 */
const buildSerializer: SerializerFactory = (externalSchemas, options) => {
  const compile = serializerFactory(externalSchemas, options)
  return (route) => {
    let serialize: ((doc: unknown) => string) | undefined
    return (doc) => (serialize ??= compile(route))(doc)
  }
}

/**
 * How route schemas become validators and serializers, as Fastify constructor options (buildApp passes them):
 * Fastify takes a compilers factory only when it is built, and a plugin could only swap in a schema controller
 * of its own, which would no longer count the validator as custom and so would compile header schemas otherwise.
 */
export const schemaCompilerOptions = {
  ajv: {
    // Reject unknown properties instead of silently dropping them.
    customOptions: { removeAdditional: false },
    plugins: [addFormats]
  },
  schemaController: { compilersFactory: { buildValidator, buildSerializer } },
  // The serializer checks anyOf branches with its own Ajv, which must know the formats too.
  serializerOpts: { ajv: { formats: FORMATS } }
} satisfies Pick<FastifyServerOptions, 'ajv' | 'schemaController' | 'serializerOpts'>

import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { AjvCompiler, type BuildCompilerFromPool } from '@fastify/ajv-compiler'
import { SerializerSelector, type SerializerFactory } from '@fastify/fast-json-stringify-compiler'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyHttpOptions, type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Type } from 'typebox'
import type { Config } from './config.js'
import { Problem, problemResponses, setProblemHandlers, ValidationFailed } from './errors.js'
import authPlugin from './plugins/auth.js'
import configPlugin from './plugins/config.js'
import hostPlugin from './plugins/host.js'
import hubPlugin from './plugins/hub.js'
import metricsPlugin from './plugins/metrics.js'
import sessionsPlugin from './plugins/sessions.js'
import healthRoutes from './routes/health.js'
import metricsRoutes from './routes/metrics.js'
import openapiRoutes from './routes/openapi.js'
import uiRoutes from './routes/ui.js'
import hostRoutes from './routes/v1/host.js'
import eventRoutes from './routes/v1/sessions/events.js'
import histogramRoutes from './routes/v1/sessions/histogram.js'
import sessionRoutes from './routes/v1/sessions/index.js'
import { DropEvent, LatencyEvent, LostEvent, StateEvent } from './schemas/event.js'
import { addFormats, FORMATS } from './schemas/formats.js'
import { Filter, Session } from './schemas/session.js'

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

/** Schemas that routes reference with `ref()`; they become components.schemas in the OpenAPI document. */
const SHARED_SCHEMAS = [Problem, Filter, Session, LatencyEvent, DropEvent, LostEvent, StateEvent]

const NO_QUERY = Type.Object({}, { additionalProperties: false })

export interface AppOptions {
  config: Config
}

/** The whole service as one plugin: documentation, services, error handling and routes. */
export const udplat = fp<AppOptions>(async (app, { config }) => {
  await app.register(configPlugin, { config })
  // Bodies are JSON: a text/plain one is a 415, not text to validate as JSON.
  app.removeContentTypeParser('text/plain')
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema)
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'udplat',
        version,
        description: 'Per-datagram UDP receive latency by stage (stack, socket queue, copy) and drops, measured with BPF for a chosen slice of traffic.'
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
      tags: [
        { name: 'sessions', description: 'A session attaches probes for one filter until it is deleted or expires' },
        { name: 'events', description: 'Slow datagrams and drops seen by a session, polled or streamed' },
        { name: 'host', description: 'What this host\'s kernel allows, and the service\'s limits' },
        { name: 'metrics', description: 'Prometheus' },
        { name: 'health', description: 'Liveness and readiness, without authentication' }
      ]
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) }
  })
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' })
  // A route without a query string schema takes no query (`?anything` is a 400, as an unknown body field is);
  // every route documents its 400.
  app.addHook('onRoute', (route) => {
    if (route.schema === undefined || route.schema.hide === true) return
    route.schema.querystring ??= NO_QUERY
    route.schema.response = { ...problemResponses(ValidationFailed), ...(route.schema.response as object | undefined) }
  })
  await app.register(sessionsPlugin)
  await app.register(hubPlugin)
  await app.register(hostPlugin)
  await app.register(metricsPlugin)
  setProblemHandlers(app)

  await app.register(healthRoutes)
  await app.register(openapiRoutes)
  await app.register(uiRoutes)
  await app.register(async (authenticated) => {
    await authenticated.register(authPlugin)
    await authenticated.register(metricsRoutes)
    await authenticated.register(async (v1) => {
      await v1.register(hostRoutes)
      await v1.register(sessionRoutes, { prefix: '/sessions' })
      await v1.register(eventRoutes, { prefix: '/sessions' })
      await v1.register(histogramRoutes, { prefix: '/sessions' })
    }, { prefix: '/v1' })
  })
}, { name: 'udplat' })

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
 * A Fastify instance with the whole service registered, not yet listening.
 * `serverOptions` adds to or overrides the defaults (no logger unless given).
 */
export function buildApp (config: Config, serverOptions: FastifyHttpOptions<Server> = {}): FastifyInstance {
  const app = Fastify({
    ...serverOptions,
    ajv: {
      // Reject unknown properties instead of silently dropping them.
      customOptions: { removeAdditional: false },
      plugins: [addFormats]
    },
    schemaController: { compilersFactory: { buildValidator, buildSerializer } },
    // The serializer checks anyOf branches with its own Ajv, which must know the formats too.
    serializerOpts: { ajv: { formats: FORMATS } }
  }).withTypeProvider<TypeBoxTypeProvider>()
  app.register(udplat, { config })
  return app
}

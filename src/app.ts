import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyHttpOptions, type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from './config.js'
import { Problem, setProblemHandlers } from './errors.js'
import authPlugin from './plugins/auth.js'
import configPlugin from './plugins/config.js'
import sessionsPlugin from './plugins/sessions.js'
import healthRoutes from './routes/health.js'
import openapiRoutes from './routes/openapi.js'
import eventRoutes from './routes/v1/sessions/events.js'
import sessionRoutes from './routes/v1/sessions/index.js'
import { DropEvent, LatencyEvent } from './schemas/event.js'
import { addFormats, FORMATS } from './schemas/formats.js'
import { Filter, Session } from './schemas/session.js'

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

/** Schemas that routes reference with `ref()`; they become components.schemas in the OpenAPI document. */
const SHARED_SCHEMAS = [Problem, Filter, Session, LatencyEvent, DropEvent]

export interface AppOptions {
  config: Config
}

/** The whole service as one plugin: documentation, services, error handling and routes. */
export const udplat = fp<AppOptions>(async (app, { config }) => {
  await app.register(configPlugin, { config })
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
        { name: 'events', description: 'Slow datagrams and drops seen by a session' },
        { name: 'health', description: 'Liveness, without authentication' }
      ]
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) }
  })
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' })
  await app.register(sessionsPlugin)
  setProblemHandlers(app)

  await app.register(healthRoutes)
  await app.register(openapiRoutes)
  await app.register(async (v1) => {
    await v1.register(authPlugin)
    await v1.register(sessionRoutes, { prefix: '/sessions' })
    await v1.register(eventRoutes, { prefix: '/sessions' })
  }, { prefix: '/v1' })
}, { name: 'udplat' })

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
    // The serializer checks anyOf branches with its own Ajv, which must know the formats too.
    serializerOpts: { ajv: { formats: FORMATS } }
  }).withTypeProvider<TypeBoxTypeProvider>()
  app.register(udplat, { config })
  return app
}

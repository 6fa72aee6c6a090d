import type { Server } from 'node:http'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyHttpOptions, type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from './config.js'
import { setProblemHandlers } from './errors.js'
import authPlugin from './plugins/auth.js'
import configPlugin from './plugins/config.js'
import hostPlugin from './plugins/host.js'
import hubPlugin from './plugins/hub.js'
import jsonBodyPlugin from './plugins/json-body.js'
import methodsPlugin from './plugins/methods.js'
import metricsPlugin from './plugins/metrics.js'
import originsPlugin from './plugins/origins.js'
import routeSchemasPlugin from './plugins/route-schemas.js'
import sessionsPlugin from './plugins/sessions.js'
import swaggerPlugin from './plugins/swagger.js'
import healthRoutes from './routes/health.js'
import metricsRoutes from './routes/metrics.js'
import openapiRoutes from './routes/openapi.js'
import uiRoutes from './routes/ui.js'
import hostRoutes from './routes/v1/host.js'
import eventRoutes from './routes/v1/sessions/events.js'
import histogramRoutes from './routes/v1/sessions/histogram.js'
import sessionRoutes from './routes/v1/sessions/index.js'
import { schemaCompilerOptions } from './schemas/compilers.js'

export interface AppOptions {
  config: Config
}

/** The whole service as one plugin: documentation, services, error handling and routes. */
export const udplat = fp<AppOptions>(async (app, { config }) => {
  await app.register(configPlugin, { config })
  await app.register(jsonBodyPlugin)
  await app.register(methodsPlugin)
  await app.register(originsPlugin)
  await app.register(routeSchemasPlugin)
  await app.register(swaggerPlugin)
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

/**
 * A Fastify instance with the whole service registered, not yet listening.
 * `serverOptions` adds to or overrides the defaults (no logger unless given).
 */
export function buildApp (config: Config, serverOptions: FastifyHttpOptions<Server> = {}): FastifyInstance {
  const app = Fastify({ ...serverOptions, ...schemaCompilerOptions }).withTypeProvider<TypeBoxTypeProvider>()
  app.register(udplat, { config })
  return app
}

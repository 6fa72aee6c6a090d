import { readFileSync } from 'node:fs'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

/** The OpenAPI document made from the route schemas (`app.swagger()`, served by routes/openapi.ts), and its UI at /docs. */
export default fp(async (app) => {
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
}, { name: 'swagger' })

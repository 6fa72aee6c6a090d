import type { FastifyPluginAsync } from 'fastify'

/** The OpenAPI document at /openapi.json (also at /docs/json, beside the UI). */
const openapiRoutes: FastifyPluginAsync = async (app) => {
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}

export default openapiRoutes

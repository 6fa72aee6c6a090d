import { createHash, timingSafeEqual } from 'node:crypto'
import fp from 'fastify-plugin'
import { problemResponses, Unauthorized } from '../errors.js'

const digest = (value: string) => createHash('sha256').update(value).digest()

/**
 * Bearer-token authentication for the routes registered after it in the same scope.
 * Every such route documents the scheme and its 401; the check runs when a token is configured.
 */
export default fp(async (app) => {
  app.addHook('onRoute', (route) => {
    route.schema = {
      ...route.schema,
      security: [{ bearerAuth: [] }],
      response: { ...problemResponses(Unauthorized), ...(route.schema?.response as object | undefined) }
    }
  })
  const { token } = app.config
  if (token === undefined) return
  const expected = digest(token)
  app.addHook('onRequest', async (request, reply) => {
    // Exactly one token after the scheme (RFC 6750): `Bearer <token> <anything>` is not the token.
    const presented = /^bearer +(\S+)$/i.exec(request.headers.authorization ?? '')?.[1]
    // Comparing digests keeps the comparison constant-time whatever the presented length.
    if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
      reply.header('www-authenticate', 'Bearer realm="udplat"')
      throw new Unauthorized()
    }
  })
}, { name: 'auth', dependencies: ['config'] })

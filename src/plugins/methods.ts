import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /** The methods some route answers at `url` (its path; a query is ignored), the safe ones first. */
    allowedMethods: (url: string) => string[]
  }
}

const ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']
const rank = (method: string) => ORDER.includes(method) ? ORDER.indexOf(method) : ORDER.length

/** `app.allowedMethods(url)`: what a 405's Allow header and a CORS preflight's allowed methods list. */
export default fp(async (app) => {
  const methods = new Set<string>()
  app.addHook('onRoute', (route) => { for (const method of [route.method].flat()) methods.add(method) })
  app.decorate('allowedMethods', (url: string) => {
    const path = url.split('?')[0] ?? url
    return [...methods].filter((method) => app.findRoute({ method: method as 'GET', url: path }) !== null).sort((a, b) => rank(a) - rank(b))
  })
}, { name: 'methods' })

import fp from 'fastify-plugin'
import { BadRequest, UnsupportedMediaType, ValidationFailed } from '../errors.js'

/**
 * The path of the first key in `value` that could change a prototype once the body is merged into an object: a
 * `__proto__`, or a `constructor` holding `prototype`. Iterative: a body may nest as deep as JSON.parse allows.
 */
function prototypeKey (value: unknown): string | undefined {
  const stack: Array<[unknown, string]> = [[value, 'body']]
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [node, path] = next
    if (node === null || typeof node !== 'object') continue
    if (Object.hasOwn(node, '__proto__')) return `${path}/__proto__`
    const constructor = (node as { constructor?: unknown }).constructor
    if (Object.hasOwn(node, 'constructor') && constructor !== null && typeof constructor === 'object' && Object.hasOwn(constructor, 'prototype')) {
      return `${path}/constructor/prototype`
    }
    for (const [key, child] of Object.entries(node)) stack.push([child, `${path}/${key}`])
  }
  return undefined
}

/**
 * Bodies are JSON, and only JSON: a text/plain body is a 415 rather than text to validate, and so is a request
 * without a body on a route that takes one (a bare POST), which is also what a page of another site can send
 * without asking first. A body that is not JSON says where it breaks; one that is, but holds a key that could
 * change a prototype, names that key.
 */
export default fp(async (app) => {
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
    if (text === '') return done(new BadRequest('the body is empty: send a JSON object, {} for every default'), undefined)
    let body: unknown
    try {
      body = JSON.parse(text as string)
    } catch (err) {
      return done(new BadRequest(`the body is not valid JSON: ${(err as SyntaxError).message}`), undefined)
    }
    const key = prototypeKey(body)
    if (key !== undefined) return done(new ValidationFailed(`${key}: this key is refused, since it could change an object's prototype`), undefined)
    done(null, body)
  })
  app.addHook('preValidation', async (request) => {
    if (request.routeOptions.schema?.body !== undefined && request.headers['content-type'] === undefined) {
      throw new UnsupportedMediaType(`${request.method} ${request.routeOptions.url} takes a JSON body: send one as application/json ({} for every default)`)
    }
  })
}, { name: 'json-body' })

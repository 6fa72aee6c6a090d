import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { expectProblem, sharedApp, testApp, testConfig } from './helpers/app.js'

describe('app', () => {
  it('serves the committed OpenAPI document at /openapi.json', async () => {
    const app = await testApp()
    const res = await app.inject({ url: '/openapi.json' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual(JSON.parse(readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8')))
  })

  it('documents every problem code, and on every route the codes it answers with', async () => {
    const app = await testApp()
    const document = (await app.inject({ url: '/openapi.json' })).json()
    expect(document.components.schemas.Problem.properties.code.enum).toEqual([
      'UDPLAT_VALIDATION', 'UDPLAT_BAD_REQUEST', 'UDPLAT_UNAUTHORIZED', 'UDPLAT_ORIGIN_FORBIDDEN', 'UDPLAT_ROUTE_NOT_FOUND', 'UDPLAT_SESSION_NOT_FOUND',
      'UDPLAT_METHOD_NOT_ALLOWED', 'UDPLAT_SESSION_DELETED', 'UDPLAT_BODY_TOO_LARGE', 'UDPLAT_UNSUPPORTED_MEDIA_TYPE', 'UDPLAT_MISDIRECTED_REQUEST',
      'UDPLAT_SESSION_LIMIT', 'UDPLAT_BUFFER_LIMIT', 'UDPLAT_INTERNAL',
      'UDPLAT_LOADER_FAILED', 'UDPLAT_LOADER_UNAVAILABLE', 'UDPLAT_NOT_READY'
    ])
    const operations = Object.entries(document.paths).flatMap(([path, methods]) => Object.entries(methods as object).map(([method, operation]) => ({ path, method, operation })))
    for (const { path, operation } of operations) {
      const problems = Object.entries(operation.responses as Record<string, any>).filter(([status]) => Number(status) >= 400)
      expect(problems.map(([status]) => status), path).toEqual(expect.arrayContaining(['400', '403', '421', '500']))
      if (path !== '/healthz' && path !== '/readyz') expect(problems.map(([status]) => status), path).toContain('401')
      for (const [status, response] of problems) {
        expect(response.content['application/problem+json'].schema.$ref, `${path} ${status}`).toBe('#/components/schemas/Problem')
        expect(response.description, `${path} ${status}`).toMatch(/^`UDPLAT_[A-Z_]+`: /)
      }
    }
    const codes = (path: string, method: string, status: string) => document.paths[path][method].responses[status].description
    expect(codes('/v1/sessions', 'post', '429')).toBe('`UDPLAT_SESSION_LIMIT`: Too many sessions; `UDPLAT_BUFFER_LIMIT`: Event buffer limit reached')
    expect(codes('/v1/sessions/{id}/events', 'get', '404')).toBe('`UDPLAT_SESSION_NOT_FOUND`: Session not found')
    expect(codes('/readyz', 'get', '503')).toBe('`UDPLAT_NOT_READY`: Not ready to start sessions')
  })

  it('answers a body that is not JSON with 415, and an oversized one with 413, as problem+json', async () => {
    const app = await testApp()
    expectProblem(await app.inject({ method: 'POST', url: '/v1/sessions', payload: '<x/>', headers: { 'content-type': 'application/xml' } }), 415, 'UDPLAT_UNSUPPORTED_MEDIA_TYPE')
    const huge = JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) })
    expectProblem(await app.inject({ method: 'POST', url: '/v1/sessions', payload: huge, headers: { 'content-type': 'application/json' } }), 413, 'UDPLAT_BODY_TOO_LARGE')
  })

  it.each(['/healthz', '/readyz', '/metrics', '/v1/host', '/v1/sessions/x', '/v1/sessions/x/histogram'])('rejects a query string on %s, which takes none', async (url) => {
    const app = await sharedApp()
    expect(expectProblem(await app.inject({ url: `${url}?verbose=1` }), 400, 'UDPLAT_VALIDATION').detail).toBe('querystring/verbose must NOT have additional properties')
  })

  it('serves swagger-ui at /docs', async () => {
    const app = await testApp()
    const res = await app.inject({ url: '/docs/' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/html/)
  })

  it('answers unknown routes with problem+json 404', async () => {
    const app = await testApp()
    const res = await app.inject({ method: 'PUT', url: '/v2/things?x=1' })
    expect(res.statusCode).toBe(404)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.json()).toEqual({
      type: 'urn:udplat:problem:route-not-found',
      title: 'Route not found',
      status: 404,
      detail: 'no route for PUT /v2/things?x=1',
      instance: '/v2/things',
      code: 'UDPLAT_ROUTE_NOT_FOUND'
    })
  })

  it('answers a method a route does not take with 405 and its Allow header, on every route', async () => {
    const app = buildApp(testConfig())
    const patterns = new Set<string>()
    app.addHook('onRoute', ({ url }) => { patterns.add(url) })
    await app.ready()
    const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const
    try {
      expect([...patterns]).toEqual(expect.arrayContaining(['/ui', '/ui/sessions/:id', '/v1/sessions', '/v1/sessions/:id', '/docs/static/*']))
      for (const pattern of patterns) {
        const url = pattern.replace(/:\w+|\*/g, 'x')
        const methods = METHODS.filter((method) => app.hasRoute({ url: pattern, method }))
        const allow = methods.join(', ')
        for (const method of METHODS.filter((one) => !methods.includes(one))) {
          const res = await app.inject({ method: method as 'GET', url })
          expect(res.statusCode, `${method} ${url}`).toBe(405)
          expect(res.headers.allow, `${method} ${url}`).toBe(allow)
          if (method !== 'HEAD') expect(expectProblem(res, 405, 'UDPLAT_METHOD_NOT_ALLOWED').detail).toBe(`${method} is not a method of ${url}, which takes ${allow}`)
        }
      }
    } finally {
      await app.close()
    }
  })

  it('answers 404, not 405, where a route of the method finds nothing', async () => {
    const app = await sharedApp()
    expectProblem(await app.inject({ url: '/ui/assets/no-such-file.js' }), 404, 'UDPLAT_ROUTE_NOT_FOUND')
  })

  it('hides the internals of unexpected errors', async () => {
    const app = buildApp(testConfig())
    app.register(async (child) => {
      child.get('/boom', async () => { throw new Error('secret: /etc/shadow') })
    })
    const res = await app.inject({ url: '/boom' })
    await app.close()
    expect(res.statusCode).toBe(500)
    expect(res.json()).toEqual({
      type: 'urn:udplat:problem:internal',
      title: 'Internal error',
      status: 500,
      detail: 'internal error',
      instance: '/boom',
      code: 'UDPLAT_INTERNAL'
    })
  })
})

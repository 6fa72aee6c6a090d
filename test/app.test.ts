import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { testApp, testConfig } from './helpers/app.js'

describe('app', () => {
  it('answers /healthz', async () => {
    const app = await testApp()
    const res = await app.inject({ url: '/healthz' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'ok' })
  })

  it('serves the committed OpenAPI document at /openapi.json', async () => {
    const app = await testApp()
    const res = await app.inject({ url: '/openapi.json' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual(JSON.parse(readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8')))
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

import { describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import { expectProblem, testConfig } from '../helpers/app.js'

const TOKEN = 'correct-horse-battery-staple'

/** Open by design (docs/api.md): health checks, the API's description, and the page (it sends the token itself). */
const OPEN = [/^\/healthz$/, /^\/readyz$/, /^\/openapi\.json$/, /^\/docs(\/|$)/, /^\/ui(\/|$)/]

const WRONG = [
  ['no authorization header', undefined],
  ['a wrong token', `Bearer ${TOKEN.slice(0, -1)}X`],
  ['the token with a suffix', `Bearer ${TOKEN}x`],
  ['the token as Basic', `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}`],
  ['the token without a scheme', TOKEN],
  ['an empty bearer', 'Bearer '],
  ['two tokens', `Bearer ${TOKEN} ${TOKEN}`],
  ['a 1 MiB token', `Bearer ${'x'.repeat(2 ** 20)}`]
] as const

describe('with a token configured', () => {
  it('every route but the open ones rejects missing and wrong tokens with 401 problem+json, and takes the right one', async () => {
    const app = buildApp(testConfig({ token: TOKEN }))
    const routes: Array<{ method: string, url: string }> = []
    app.addHook('onRoute', ({ method, url }) => {
      for (const one of [method].flat()) if (one !== 'HEAD') routes.push({ method: one, url })
    })
    await app.ready()
    try {
      const created = await app.inject({ method: 'POST', url: '/v1/sessions', payload: {}, headers: { authorization: `Bearer ${TOKEN}` } })
      expect(created.statusCode).toBe(201)
      const id: string = created.json().id
      const guarded = routes.filter(({ url }) => !OPEN.some((open) => open.test(url)))
      // Every documented route, and nothing else, is guarded: a new route must choose.
      expect(guarded.map(({ method, url }) => `${method} ${url}`).sort()).toEqual(Object.entries((app.swagger() as any).paths as Record<string, object>)
        .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path.replace('{id}', ':id')}`))
        .filter((route) => !OPEN.some((open) => open.test(route.split(' ')[1]!))).sort())

      for (const { method, url } of guarded) {
        // DELETE comes last of its session's routes: run it on a session of its own.
        const target = method === 'DELETE'
          ? (await app.inject({ method: 'POST', url: '/v1/sessions', payload: {}, headers: { authorization: `Bearer ${TOKEN}` } })).json().id
          : id
        const path = url.replace(':id', target)
        for (const [what, authorization] of WRONG) {
          const res = await app.inject({ method: method as 'GET', url: path, headers: authorization === undefined ? {} : { authorization } })
          expect(res.statusCode, `${method} ${url} with ${what}`).toBe(401)
          expectProblem(res, 401, 'UDPLAT_UNAUTHORIZED')
          expect(res.headers['www-authenticate']).toBe('Bearer realm="udplat"')
        }
        // As a stream: the event stream of a running session does not end.
        const allowed = await app.inject({ method: method as 'GET', url: path, headers: { authorization: `Bearer ${TOKEN}` }, ...(method === 'POST' ? { payload: {} } : {}), payloadAsStream: true })
        allowed.stream().destroy()
        expect(allowed.statusCode, `${method} ${url}`).toBeLessThan(300)
      }
      for (const { method, url } of routes.filter(({ url }) => OPEN.some((open) => open.test(url)) && !url.includes('*'))) {
        expect((await app.inject({ method: method as 'GET', url })).statusCode, `${method} ${url}`).not.toBe(401)
      }
    } finally {
      await app.close()
    }
  })
})

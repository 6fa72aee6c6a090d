import { hostname } from 'node:os'
import { describe, expect, it } from 'vitest'
import { expectProblem, fakeProbe, sharedApp, testApp } from '../helpers/app.js'

// Who may call the service from a browser: its own Host names only (DNS rebinding), its own pages, and the origins
// given CORS. The Chromium side of the same is test/ui/cross-origin.test.ts.

const TOKEN = 'correct-horse-battery-staple'
const PORTAL = 'https://portal.example.com'
type App = Awaited<ReturnType<typeof testApp>>

const post = async (app: App, headers: Record<string, string>) =>
  await app.inject({ method: 'POST', url: '/v1/sessions', payload: {}, headers: { 'content-type': 'application/json', ...headers } })

const sessions = async (app: App, headers: Record<string, string> = {}) =>
  (await app.inject({ url: '/v1/sessions', headers })).json().sessions as unknown[]

describe('the Host a request names', () => {
  it.each([
    'localhost:9470', 'LOCALHOST:9470', 'localhost', '127.0.0.1:9470', '127.0.0.1', '[::1]:9470', '198.51.100.10:8080', '[2001:db8::1]', 'localhost:8080'
  ])('is the service\'s own when it is %s: localhost or an address, on any port', async (host) => {
    const app = await sharedApp()
    expect((await app.inject({ url: '/healthz', headers: { host } })).statusCode).toBe(200)
  })

  it.each([
    'rebind.evil.example:9470', 'rebind.evil.example', 'localhost.evil.example:9470', 'localhost.:9470', '127.0.0.1.nip.io:9470', 'evil'
  ])('is not the service\'s own when it is %s: 421 on every route, before anything else', async (host) => {
    const probe = fakeProbe('run')
    const app = await sharedApp()
    for (const [method, url] of [['GET', '/healthz'], ['GET', '/ui'], ['GET', '/v1/sessions'], ['GET', '/v1/sessions/x/events'], ['POST', '/v1/sessions'], ['PUT', '/nowhere']]) {
      const res = await app.inject({ method: method as 'GET', url, headers: { host, 'content-type': 'application/json' }, payload: method === 'POST' ? {} : undefined })
      expect(expectProblem(res, 421, 'UDPLAT_MISDIRECTED_REQUEST').detail, `${method} ${url}`).toBe(`this service does not answer for host ${host}: ` +
        'it answers for localhost, IP addresses, its own name, and those in UDPLAT_ALLOWED_HOSTS')
    }
    expect(() => probe()).toThrow()
    expect(await sessions(app)).toEqual([])
  })

  it('is also a name in UDPLAT_ALLOWED_HOSTS, or a subdomain of a *. one there', async () => {
    const app = await testApp({ allowedHosts: ['udplat.example.net', '*.corp.example'] })
    for (const host of ['udplat.example.net:9470', 'UDPLAT.example.net', 'a.corp.example', 'b.a.corp.example:443']) {
      expect((await app.inject({ url: '/healthz', headers: { host } })).statusCode, host).toBe(200)
    }
    for (const host of ['corp.example', 'evilcorp.example', 'udplat.example.net.evil.example']) {
      expectProblem(await app.inject({ url: '/healthz', headers: { host } }), 421, 'UDPLAT_MISDIRECTED_REQUEST')
    }
  })

  it('is also the name it listens on, and this machine\'s name when it listens on every address', async () => {
    const named = await testApp({ host: 'udplat.internal' })
    expect((await named.inject({ url: '/healthz', headers: { host: 'udplat.internal:9470' } })).statusCode).toBe(200)
    expectProblem(await named.inject({ url: '/healthz', headers: { host: `${hostname()}:9470` } }), 421, 'UDPLAT_MISDIRECTED_REQUEST')
    const everywhere = await testApp({ host: '0.0.0.0', token: TOKEN })
    expect((await everywhere.inject({ url: '/healthz', headers: { host: `${hostname()}:9470` } })).statusCode).toBe(200)
  })
})

describe('the Origin of the page that sent a request', () => {
  it('passes when absent (curl, a same-origin GET) or the service\'s own: same host and port', async () => {
    fakeProbe('run')
    const app = await testApp()
    expect((await post(app, {})).statusCode).toBe(201)
    expect((await post(app, { host: 'localhost:9470', origin: 'http://localhost:9470' })).statusCode).toBe(201)
    expect((await post(app, { host: '127.0.0.1', origin: 'http://127.0.0.1' })).statusCode).toBe(201)
    expect((await post(app, { host: 'localhost:443', origin: 'https://localhost' })).statusCode).toBe(201)
    expect(await sessions(app)).toHaveLength(4)
  })

  it.each([
    'https://evil.example', 'null', 'http://localhost:3000', 'http://127.0.0.1:9471', 'http://localhost', 'file://', 'not an origin'
  ])('refuses a page of %s with 403 on every route, starting nothing and giving no CORS answer', async (origin) => {
    const probe = fakeProbe('run')
    const app = await testApp({ allowedOrigins: [PORTAL] })
    for (const [method, url] of [['POST', '/v1/sessions'], ['GET', '/v1/sessions'], ['GET', '/v1/sessions/x/events'], ['GET', '/ui'], ['DELETE', '/v1/sessions/x']]) {
      const res = await app.inject({ method: method as 'GET', url, headers: { host: 'localhost:9470', origin, 'content-type': 'application/json' }, payload: method === 'POST' ? {} : undefined })
      expect(expectProblem(res, 403, 'UDPLAT_ORIGIN_FORBIDDEN').detail, `${method} ${url}`).toBe(`requests from pages of ${origin} are refused: ` +
        'the API answers its own pages, and those of the origins in UDPLAT_ALLOWED_ORIGINS')
      expect(res.headers['access-control-allow-origin']).toBeUndefined()
    }
    const preflight = await app.inject({ method: 'OPTIONS', url: '/v1/sessions', headers: { host: 'localhost:9470', origin, 'access-control-request-method': 'POST' } })
    expectProblem(preflight, 403, 'UDPLAT_ORIGIN_FORBIDDEN')
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined()
    expect(() => probe()).toThrow()
    expect(await sessions(app)).toEqual([])
  })
})

describe('a request without an Origin', () => {
  it.each(['cross-site', 'same-site'])('is refused with 403 when the browser says it comes from another site (Sec-Fetch-Site: %s)', async (site) => {
    const app = await sharedApp()
    for (const mode of ['no-cors', 'cors']) {
      const res = await app.inject({ url: '/v1/sessions', headers: { 'sec-fetch-site': site, 'sec-fetch-mode': mode } })
      expect(expectProblem(res, 403, 'UDPLAT_ORIGIN_FORBIDDEN').detail).toBe(`requests from pages of another site (Sec-Fetch-Site: ${site}) are refused: ` +
        'the API answers its own pages, and those of the origins in UDPLAT_ALLOWED_ORIGINS')
    }
  })

  it('passes from the service\'s own pages, from no page at all, and as a navigation from another site (a link, a portal\'s frame)', async () => {
    const app = await sharedApp()
    for (const headers of [{ 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' }, { 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate' }, {},
      { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe' }]) {
      expect((await app.inject({ url: '/ui/sessions/x', headers })).statusCode, JSON.stringify(headers)).toBe(200)
    }
  })
})

describe('an origin in UDPLAT_ALLOWED_ORIGINS', () => {
  it('gets preflights answered with the route\'s methods and the headers the page needs, the token among them', async () => {
    const app = await testApp({ allowedOrigins: [PORTAL], token: TOKEN })
    const res = await app.inject({
      method: 'OPTIONS',
      url: '/v1/sessions',
      headers: { origin: PORTAL, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' }
    })
    expect(res.statusCode).toBe(204)
    expect(res.headers).toMatchObject({
      'access-control-allow-origin': PORTAL,
      'access-control-allow-methods': 'GET, HEAD, POST',
      'access-control-allow-headers': 'Authorization, Content-Type, Last-Event-ID',
      'access-control-max-age': '600',
      vary: 'Origin'
    })
    const stream = await app.inject({ method: 'OPTIONS', url: '/v1/sessions/x/events/stream', headers: { origin: PORTAL, 'access-control-request-method': 'GET' } })
    expect([stream.statusCode, stream.headers['access-control-allow-methods']]).toEqual([204, 'GET, HEAD'])
    expectProblem(await app.inject({ method: 'OPTIONS', url: '/nowhere', headers: { origin: PORTAL, 'access-control-request-method': 'GET' } }), 404, 'UDPLAT_ROUTE_NOT_FOUND')
    // Not a preflight: a plain OPTIONS, which no route takes.
    expectProblem(await app.inject({ method: 'OPTIONS', url: '/v1/sessions', headers: { origin: PORTAL } }), 405, 'UDPLAT_METHOD_NOT_ALLOWED')
  })

  it('gets answers it may read, a 401 and a new session\'s Location included', async () => {
    fakeProbe('run')
    const app = await testApp({ allowedOrigins: [PORTAL], token: TOKEN })
    const refused = await post(app, { origin: PORTAL })
    expectProblem(refused, 401, 'UDPLAT_UNAUTHORIZED')
    expect(refused.headers['access-control-allow-origin']).toBe(PORTAL)
    const created = await post(app, { origin: PORTAL, authorization: `Bearer ${TOKEN}` })
    expect(created.statusCode).toBe(201)
    expect(created.headers).toMatchObject({ 'access-control-allow-origin': PORTAL, 'access-control-expose-headers': 'Location, WWW-Authenticate', vary: 'Origin' })
  })

  it('is the only one: without it, the same page is refused', async () => {
    const app = await testApp({ token: TOKEN })
    expectProblem(await post(app, { origin: PORTAL, authorization: `Bearer ${TOKEN}` }), 403, 'UDPLAT_ORIGIN_FORBIDDEN')
  })
})

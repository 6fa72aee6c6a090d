import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Config } from '../../src/config.js'
import { fakeProbe, listeningApp } from '../helpers/app.js'
import { launchBrowser, watchedPage, type Browser } from './browser.js'

// Pages of other sites in Chromium, against the service with a fake loader: one that posts to it without asking
// (fetch no-cors), one that reads it after rebinding its own name to the service's address, and a portal that
// the service lets in, with its token. The service's own page, same origin, goes on working.

const UI_MS = 20_000
const TOKEN = 'correct-horse-battery-staple'
const REBOUND = 'rebind.evil.example'

let browser: Browser
// The rebinding attacker's name, once rebound, resolves to the service's address. Chromium's own Local Network
// Access checks would stop some of these requests before they left the browser; other browsers have none, so
// they are off here: what stops them must be the service.
beforeAll(async () => {
  browser = await launchBrowser([`--host-resolver-rules=MAP ${REBOUND} 127.0.0.1`, '--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessChecks'])
}, 60_000)
afterAll(async () => { await browser?.close() })

/** A site of its own on loopback (another origin than the service's), serving one page that runs `script`. */
async function site (script: () => string): Promise<{ server: Server, origin: string }> {
  const server = createServer((_request, response) => {
    response.setHeader('content-type', 'text/html')
    response.end(`<!doctype html><title>other site</title><script>${script()}</script>`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

/**
 * The page-side of an attempt: each request's outcome as the page saw it (status, body), or the error the browser
 * gave it, in window.results.
 */
const ATTEMPTS = `
const attempt = async (what, url, init = {}) => {
  try {
    const response = await fetch(url, init)
    return { what, type: response.type, status: response.status, body: await response.text() }
  } catch (err) {
    return { what, error: String(err) }
  }
}`

async function service (overrides: Partial<Config> = {}) {
  const { app, base } = await listeningApp(overrides)
  const auth: Record<string, string> = overrides.token === undefined ? {} : { authorization: `Bearer ${overrides.token}` }
  const created = await fetch(`${base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: '{"name":"mine"}' })
  const { id } = await created.json() as { id: string }
  await vi.waitFor(async () => expect((await (await fetch(`${base}/v1/sessions/${id}`, { headers: auth })).json()).lastSeq).toBe(3))
  const sessions = async () => ((await (await fetch(`${base}/v1/sessions`, { headers: auth })).json()) as { sessions: Array<{ id: string }> }).sessions.map((s) => s.id)
  return { app, base, id, sessions }
}

describe('a page of another site, in Chromium', () => {
  it('starts no session by posting without asking (no-cors), nor by asking (a preflight), and reads no event', async () => {
    fakeProbe('run', { events: 3 })
    const { base, id, sessions } = await service()
    const attacker = await site(() => `${ATTEMPTS}
      window.results = Promise.all([
        ...[1, 2, 3].map((i) => attempt('no-cors POST ' + i, '${base}/v1/sessions', { method: 'POST', mode: 'no-cors' })),
        attempt('no-cors POST, text/plain', '${base}/v1/sessions', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{"ttlSeconds":604800}' }),
        attempt('POST, JSON', '${base}/v1/sessions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
        attempt('GET events', '${base}/v1/sessions/${id}/events'),
        attempt('no-cors GET events', '${base}/v1/sessions/${id}/events', { mode: 'no-cors' })
      ])`)
    const watched = await watchedPage(browser.context)
    const answered: Array<{ url: string, status: number }> = []
    watched.page.on('response', (response) => { if (response.url().startsWith(base)) answered.push({ url: response.url(), status: response.status() }) })
    try {
      await watched.page.goto(attacker.origin)
      const results = await watched.page.evaluate(async () => await (window as any).results) as Array<{ what: string, type?: string, status?: number, body?: string, error?: string }>
      console.log('cross-origin page saw:', JSON.stringify(results.map(({ what, type, status, error }) => ({ what, type, status, error }))))
      // What the page could see: opaque answers to no-cors, errors for the rest; never a body.
      expect(results.every(({ body }) => body === undefined || body === '')).toBe(true)
      // What the service answered: 403 to every request that reached it (the preflight stopped the JSON POST).
      expect(answered.length).toBeGreaterThanOrEqual(5)
      expect(answered.filter(({ status }) => status !== 403)).toEqual([])
      expect(await sessions()).toEqual([id])
    } finally {
      await watched.page.close()
      attacker.server.close()
    }
  })

  it('reads nothing and starts nothing after rebinding its own name to the service\'s address', async () => {
    fakeProbe('run', { events: 3 })
    const { base, id, sessions } = await service()
    const rebound = base.replace('127.0.0.1', REBOUND)
    const watched = await watchedPage(browser.context)
    // The attacker's page, as its server sent it before the name was rebound; everything after goes to the service.
    await watched.page.route(`${rebound}/`, async (route) => await route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><title>rebinding</title><script>${ATTEMPTS}
        window.results = Promise.all([
          attempt('GET sessions', '/v1/sessions'),
          attempt('GET events', '/v1/sessions/${id}/events'),
          attempt('POST, JSON', '/v1/sessions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
        ])</script>`
    }))
    try {
      await watched.page.goto(`${rebound}/`)
      const results = await watched.page.evaluate(async () => await (window as any).results) as Array<{ what: string, status?: number, body?: string, error?: string }>
      console.log('rebinding page saw:', JSON.stringify(results.map(({ what, status, body, error }) => ({ what, status, code: body && JSON.parse(body).code, error }))))
      expect(results.map(({ status }) => status)).toEqual([421, 421, 421])
      for (const { body } of results) expect(JSON.parse(body!)).toMatchObject({ code: 'UDPLAT_MISDIRECTED_REQUEST' })
      expect(await sessions()).toEqual([id])
    } finally {
      await watched.page.close()
    }
  })
})

describe('a portal in UDPLAT_ALLOWED_ORIGINS, in Chromium', () => {
  it('calls the API from its own page with the token: preflights pass, and it reads the answers', async () => {
    fakeProbe('run', { events: 3 })
    let base = ''
    const portal = await site(() => `${ATTEMPTS}
      const token = { authorization: 'Bearer ${TOKEN}' }
      window.results = (async () => {
        const unauthorized = await attempt('POST without the token', '${base}/v1/sessions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
        const created = await fetch('${base}/v1/sessions', { method: 'POST', headers: { 'content-type': 'application/json', ...token }, body: '{"name":"portal"}' })
        const location = created.headers.get('location')
        const session = await created.json()
        await new Promise((resolve) => setTimeout(resolve, 500))
        const events = await attempt('GET events', '${base}' + location + '/events', { headers: token })
        const stream = await fetch('${base}' + location + '/events/stream', { headers: { ...token, 'last-event-id': '1' } })
        const reader = stream.body.getReader()
        const { value } = await reader.read()
        reader.cancel()
        return { unauthorized, created: created.status, location, id: session.id, events, stream: [stream.status, new TextDecoder().decode(value)] }
      })()`)
    const { base: serviceBase, sessions } = await service({ token: TOKEN, allowedOrigins: [portal.origin] })
    base = serviceBase
    const watched = await watchedPage(browser.context)
    try {
      await watched.page.goto(portal.origin)
      const results = await watched.page.evaluate(async () => await (window as any).results, undefined) as any
      expect(results.unauthorized).toMatchObject({ status: 401, type: 'cors' })
      expect(JSON.parse(results.unauthorized.body).code).toBe('UDPLAT_UNAUTHORIZED')
      expect(results.created).toBe(201)
      expect(results.location).toBe(`/v1/sessions/${results.id}`)
      expect(JSON.parse(results.events.body).events.map((event: { seq: number }) => event.seq)).toEqual([1, 2, 3])
      expect(results.stream[0]).toBe(200)
      expect(results.stream[1]).toContain('event: state')
      expect(await sessions()).toContain(results.id)
    } finally {
      await watched.page.close()
      portal.server.close()
    }
  }, UI_MS)
})

describe('the service\'s own page, in Chromium', () => {
  it('starts a session through its form: its requests are same-origin', async () => {
    fakeProbe('run', { events: 3 })
    const { base, id, sessions } = await service()
    const watched = await watchedPage(browser.context)
    try {
      await watched.page.goto(`${base}/ui`)
      await watched.page.locator('form.create [name="name"]').fill('from the page', { timeout: UI_MS })
      await watched.page.getByRole('button', { name: 'Start session' }).click()
      await watched.page.waitForURL(/\/ui\/sessions\/[\w-]+$/, { timeout: UI_MS })
      const created = decodeURIComponent(watched.page.url().split('/').pop()!)
      expect((await sessions()).sort()).toEqual([id, created].sort())
      await expect.poll(async () => await watched.page.locator('tr.event').count(), { timeout: UI_MS }).toBe(3)
      expect(watched.errors).toEqual([])
    } finally {
      await watched.page.close()
    }
  })
})

import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Config } from '../../src/config.js'
import { listeningApp } from '../helpers/app.js'
import { startTraffic } from '../helpers/traffic.js'
import { PROBE } from '../kernel/workload.js'
import { launchBrowser, watchedPage, type Browser, type WatchedPage } from './browser.js'

// The page at /ui in Debian's Chromium, against the service with the real loader and real traffic: a person
// starts a session through the form, watches it and deletes it, with and without a token, and a portal frames it.
const TOKEN = 'correct-horse-battery-staple'
const UI_MS = 20_000

let browser: Browser
beforeAll(async () => { browser = await launchBrowser() })
afterAll(async () => { await browser?.close() })

const realService = async (overrides: Partial<Config> = {}) =>
  await listeningApp({ probePath: PROBE, loaderStartTimeoutMs: 10_000, loaderStopGraceMs: 3_000, ...overrides })

/** Every request stayed on the service, and nothing was refused by the page's policy or thrown. */
function expectSelfContained ({ requests, errors }: WatchedPage, base: string): void {
  expect(requests.map(({ url }) => url).filter((url) => !url.startsWith(`${base}/`))).toEqual([])
  expect(errors).toEqual([])
}

/** The seqs of the event rows shown, oldest first. */
const shownSeqs = async ({ page }: WatchedPage) =>
  (await page.locator('tr.event').evaluateAll((rows) => rows.map((row) => Number(row.getAttribute('data-seq'))))).reverse()

interface SessionNow { lastSeq: number, counts: { matched: number, emitted: number, untracked: number, stale: number } }

/** The session as the API has it now. */
const sessionNow = async (base: string, id: string, headers: Record<string, string> = {}) =>
  await (await fetch(`${base}/v1/sessions/${id}`, { headers })).json() as SessionNow

/** Whether the page shows every event of the session, from seq 1 to the last, once each and in order. */
async function showsEveryEvent (watched: WatchedPage, base: string, id: string, headers: Record<string, string> = {}): Promise<boolean> {
  const { lastSeq } = await sessionNow(base, id, headers)
  const seqs = await shownSeqs(watched)
  return lastSeq > 0 && seqs.length === lastSeq && seqs.every((seq, i) => seq === i + 1)
}

const latencyRows = async ({ page }: WatchedPage) => await page.locator('tr.event[data-type="latency"]').count()

/** Pixels of the chart's canvas that something was drawn on. */
const paintedPixels = async ({ page }: WatchedPage) => await page.locator('.chart canvas').first().evaluate((canvas: HTMLCanvasElement) => {
  const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data
  let painted = 0
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) painted++
  return painted
})

/** Fills the form's fields (named by their path in the POST body) and submits it. */
async function submitForm ({ page }: WatchedPage, fields: Record<string, string>): Promise<void> {
  for (const [name, value] of Object.entries(fields)) await page.locator(`form.create [name="${name}"]`).fill(value)
  await page.getByRole('button', { name: 'Start session' }).click()
}

/** Starts a session through the form and waits for its view; returns its id. */
async function startThroughForm (watched: WatchedPage, fields: Record<string, string>): Promise<string> {
  await submitForm(watched, fields)
  await watched.page.waitForURL(/\/ui\/sessions\/[\w-]+$/, { timeout: UI_MS })
  return decodeURIComponent(watched.page.url().split('/').pop()!)
}

/** Deletes the session shown, as a person does: two clicks. */
async function deleteShown ({ page }: WatchedPage): Promise<void> {
  const button = page.locator('.session-header button.delete')
  await button.click()
  await expect.poll(async () => await button.textContent()).toBe('Confirm delete')
  await button.click()
  await page.waitForURL(/\/ui$/, { timeout: UI_MS })
}

describe('the page, with no token configured', () => {
  it('starts a session through the form, shows its events, counts and chart, resumes after a reconnect, and deletes it', async () => {
    const { app, base } = await realService()
    const traffic = await startTraffic(30, 2)
    const watched = await watchedPage(browser.context)
    const { page } = watched
    try {
      await page.goto(`${base}/ui`)
      const host = await (await fetch(`${base}/v1/host`)).json() as { plans: Array<{ name: string, available: boolean, reason: string | null }> }
      for (const plan of host.plans) {
        await expect.poll(async () => await page.locator(`tr[data-plan="${plan.name}"]`).textContent(), { timeout: UI_MS })
          .toBe(`${plan.name}${plan.available ? 'yes' : 'no'}${plan.reason ?? ''}`)
      }

      // A bad filter is refused with the API's own words, and the field it names is marked.
      await submitForm(watched, { 'filter.ports': `${traffic.ports[0]}, 70000` })
      const refused = await fetch(`${base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ filter: { ports: [traffic.ports[0], 70000] } }) })
      const problem = await refused.json() as { detail: string, code: string }
      expect(problem.detail).toBe('body/filter/ports/1 must be <= 65535')
      await expect.poll(async () => await page.locator('form.create .error').textContent()).toBe(`${problem.detail} (${problem.code})`)
      expect(await page.locator('[data-path="filter/ports"]').getAttribute('aria-invalid')).toBe('true')
      expect((await (await fetch(`${base}/v1/sessions`)).json()).sessions).toEqual([])

      const id = await startThroughForm(watched, { name: 'slow-reader', 'filter.ports': traffic.ports.join(' '), thresholdUs: '1000' })
      expect(await (await fetch(`${base}/v1/sessions/${id}`)).json()).toMatchObject({ name: 'slow-reader', state: 'running', filter: { ports: traffic.ports }, thresholdUs: 1000 })
      await expect.poll(async () => await page.locator('.session-header [data-state]').textContent(), { timeout: UI_MS }).toBe('running')

      await traffic.slow(20)
      await traffic.dropped(40)
      // Behind the 2 ms reader, each datagram read but the first waits over the 1 ms threshold: 19 events (the first
      // too, if the reader woke late), and the drops.
      await expect.poll(async () => (await sessionNow(base, id)).counts.matched, { timeout: UI_MS }).toBe(20)
      const { counts } = await sessionNow(base, id)
      expect(counts.emitted).toBeGreaterThanOrEqual(19)
      await expect.poll(async () => await latencyRows(watched), { timeout: UI_MS }).toBe(counts.emitted)
      await expect.poll(async () => await page.locator('[data-count="matched"] .value').textContent(), { timeout: UI_MS }).toBe('20')
      await expect.poll(async () => await page.locator('[data-count="emitted"] .value').textContent(), { timeout: UI_MS }).toBe(String(counts.emitted))
      await expect.poll(async () => await page.locator('[data-count="dropsByReason"]').textContent(), { timeout: UI_MS }).toMatch(/SOCKET_RCVBUFF\d+/)
      await expect.poll(async () => await page.locator('tr.event[data-type="drop"]').count(), { timeout: UI_MS }).toBeGreaterThan(0)
      await expect.poll(async () => await showsEveryEvent(watched, base, id), { timeout: UI_MS }).toBe(true)
      await expect.poll(async () => await page.locator('.chart').getAttribute('data-stages'), { timeout: UI_MS }).toBe('backlog stack queue copy total')
      expect(await paintedPixels(watched)).toBeGreaterThan(5000)
      expect(await page.locator('tr[data-stage="queue"] td:nth-child(2)').textContent()).toBe('20')
      expect(await page.locator('tr[data-stage="copy"] td:nth-child(2)').textContent()).toBe('20')
      const { events } = await (await fetch(`${base}/v1/sessions/${id}/events?limit=1000`)).json() as { events: Array<{ type: string, slowestStage?: string }> }
      const slowest = new Map<string, number>()
      for (const { type, slowestStage } of events) if (type === 'latency') slowest.set(slowestStage!, (slowest.get(slowestStage!) ?? 0) + 1)
      for (const [stage, n] of slowest) expect(await page.locator('[data-tally="slowest stage"]').textContent()).toContain(`${stage}${n} (`)

      // The service drops every connection: the page reconnects with Last-Event-ID, and nothing repeats or goes missing.
      const seqsBefore = await shownSeqs(watched)
      app.server.closeAllConnections()
      await expect.poll(async () => await page.locator('.stream-status').getAttribute('data-reconnects'), { timeout: UI_MS }).toBe('1')
      await traffic.slow(10)
      await expect.poll(async () => (await sessionNow(base, id)).counts.matched, { timeout: UI_MS }).toBe(30)
      const emitted = (await sessionNow(base, id)).counts.emitted
      await expect.poll(async () => await latencyRows(watched), { timeout: UI_MS }).toBe(emitted)
      await expect.poll(async () => await showsEveryEvent(watched, base, id), { timeout: UI_MS }).toBe(true)
      expect(await page.locator('[data-resumed-after]').getAttribute('data-resumed-after')).toBe(String(seqsBefore.at(-1)))
      expect(await page.locator('.stream-status').getAttribute('data-lost')).toBe('0')

      if (process.env.UDPLAT_UI_SCREENSHOT !== undefined) {
        // Wait for the chart to have every datagram: the loader sums histograms about once a second.
        await expect.poll(async () => await page.locator('tr[data-stage="total"] td:nth-child(2)').textContent(), { timeout: UI_MS }).toBe('30')
        await page.screenshot({ path: process.env.UDPLAT_UI_SCREENSHOT, fullPage: true })
      }

      await deleteShown(watched)
      expect((await fetch(`${base}/v1/sessions/${id}`)).status).toBe(404)
      await expect.poll(async () => await page.locator('.list h2').textContent(), { timeout: UI_MS }).toBe('Sessions (0)')
      expectSelfContained(watched, base)
    } finally {
      await page.close()
      await traffic.stop()
    }
  })

  it('says how many events the service\'s buffer dropped before the page read them', async () => {
    const { base } = await realService()
    const traffic = await startTraffic(300, 0)
    const watched = await watchedPage(browser.context)
    try {
      const created = await fetch(`${base}/v1/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ filter: { ports: [traffic.ports[0]] }, thresholdUs: 0, bufferEvents: 100 })
      })
      const { id } = await created.json() as { id: string }
      await traffic.slow(300, 50)
      // Every datagram read is an event, or counted untracked or stale (the tracepoint plan can see a read before the
      // enqueue it follows); the counts come about once a second, after the events.
      await expect.poll(async () => {
        const now = await sessionNow(base, id)
        return now.counts.matched + now.counts.untracked + now.counts.stale === 300 && now.lastSeq === now.counts.matched
      }, { timeout: UI_MS }).toBe(true)
      const { lastSeq } = await sessionNow(base, id)
      expect(300 - lastSeq).toBeLessThanOrEqual(1)
      const lost = String(lastSeq - 100)

      await watched.page.goto(`${base}/ui/sessions/${id}`)
      await expect.poll(async () => await watched.page.locator('.stream-status').getAttribute('data-received'), { timeout: UI_MS }).toBe('100')
      expect(await watched.page.locator('tr.notice-lost').getAttribute('data-lost')).toBe(lost)
      expect(await watched.page.locator('.stream-status').getAttribute('data-lost')).toBe(lost)
      expect(await shownSeqs(watched)).toEqual(Array.from({ length: 100 }, (_, i) => lastSeq - 99 + i))
      await expect.poll(async () => await watched.page.locator('[data-count="evicted"]').getAttribute('class'), { timeout: UI_MS }).toBe('tile warn')
      expectSelfContained(watched, base)
    } finally {
      await watched.page.close()
      await traffic.stop()
    }
  })

  it('lets a portal named in UDPLAT_UI_FRAME_ANCESTORS frame a session, and no other', async () => {
    const portal = async (frame: () => string): Promise<{ server: Server, origin: string }> => {
      const server = createServer((_request, response) => {
        response.setHeader('content-type', 'text/html')
        response.end(`<!doctype html><title>portal</title><iframe src="${frame()}" width="1200" height="800"></iframe>`)
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
    }
    let sessionUrl = ''
    const allowed = await portal(() => sessionUrl)
    const other = await portal(() => sessionUrl)
    const traffic = await startTraffic(5, 2)
    const watched = await watchedPage(browser.context)
    try {
      const { base } = await realService({ uiFrameAncestors: allowed.origin })
      const created = await fetch(`${base}/v1/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'framed', filter: { ports: [traffic.ports[0]] }, thresholdUs: 1000 })
      })
      const { id } = await created.json() as { id: string }
      sessionUrl = `${base}/ui/sessions/${id}`

      await watched.page.goto(allowed.origin)
      const frame = watched.page.frameLocator('iframe')
      await expect.poll(async () => await frame.locator('.session-header h1').textContent(), { timeout: UI_MS }).toBe('framed')
      await traffic.slow(5)
      await expect.poll(async () => (await sessionNow(base, id)).counts.matched, { timeout: UI_MS }).toBe(5)
      const { lastSeq } = await sessionNow(base, id)
      expect(lastSeq).toBeGreaterThanOrEqual(4)
      await expect.poll(async () => await frame.locator('tr.event').count(), { timeout: UI_MS }).toBe(lastSeq)
      expect(watched.errors).toEqual([])

      await watched.page.goto(other.origin)
      await expect.poll(() => watched.errors.join('\n'), { timeout: UI_MS }).toContain(`violates the following Content Security Policy directive: "frame-ancestors ${allowed.origin}"`)
      expect(await frame.locator('#view').count()).toBe(0)
    } finally {
      await watched.page.close()
      await traffic.stop()
      for (const { server } of [allowed, other]) server.close()
    }
  })
})

describe('the page, with a token configured', () => {
  it('asks for it once per tab, keeps it in sessionStorage, sends it as a header only, and works as without', async () => {
    const { base } = await realService({ token: TOKEN })
    const traffic = await startTraffic(5, 2)
    const watched = await watchedPage(browser.context)
    const { page } = watched
    try {
      await page.goto(`${base}/ui`)
      const dialog = page.locator('dialog.token')
      await expect.poll(async () => await dialog.locator('h2').textContent(), { timeout: UI_MS }).toBe('This udplat needs its API token')
      await dialog.locator('input').fill('not-the-token-at-all')
      await dialog.locator('button').click()
      await expect.poll(async () => await page.locator('dialog.token h2').textContent(), { timeout: UI_MS }).toBe('The service refused that token')
      await page.locator('dialog.token input').fill(TOKEN)
      await page.locator('dialog.token button').click()
      await expect.poll(async () => await page.locator('tr[data-plan="tracepoint"]').count(), { timeout: UI_MS }).toBe(1)
      expect(await page.locator('dialog.token').count()).toBe(0)

      const id = await startThroughForm(watched, { 'filter.ports': String(traffic.ports[0]), thresholdUs: '1000' })
      await traffic.slow(5)
      const auth = { authorization: `Bearer ${TOKEN}` }
      await expect.poll(async () => (await sessionNow(base, id, auth)).counts.matched, { timeout: UI_MS }).toBe(5)
      await expect.poll(async () => await showsEveryEvent(watched, base, id, auth), { timeout: UI_MS }).toBe(true)
      const { lastSeq } = await sessionNow(base, id, auth)

      // Kept for this tab: a reload does not ask again, and nothing else holds it.
      await page.reload()
      await expect.poll(async () => await page.locator('.stream-status').getAttribute('data-received'), { timeout: UI_MS }).toBe(String(lastSeq))
      expect(await page.locator('dialog.token').count()).toBe(0)
      expect(await page.evaluate(() => [sessionStorage.getItem('udplat.token'), localStorage.length, document.cookie])).toEqual([TOKEN, 0, ''])
      await deleteShown(watched)
      expect((await fetch(`${base}/v1/sessions/${id}`, { headers: auth })).status).toBe(404)

      // A new tab has no token until it is given one.
      const other = await watchedPage(browser.context)
      await other.page.goto(`${base}/ui`)
      await expect.poll(async () => await other.page.locator('dialog.token h2').textContent(), { timeout: UI_MS }).toBe('This udplat needs its API token')
      await other.page.close()

      const api = watched.requests.filter(({ url }) => new URL(url).pathname.startsWith('/v1/'))
      expect(api.length).toBeGreaterThan(5)
      expect(api.filter(({ headers }) => headers.authorization === `Bearer ${TOKEN}`).length).toBeGreaterThan(5)
      expect(watched.requests.filter(({ url }) => url.includes(TOKEN) || url.includes(encodeURIComponent(TOKEN)))).toEqual([])
      expectSelfContained(watched, base)
    } finally {
      await page.close()
      await traffic.stop()
    }
  })
})

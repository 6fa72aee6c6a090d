import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listeningApp } from '../helpers/app.js'
import { launchBrowser, watchedPage, type Browser } from './browser.js'

// The page draws what the API returns, not what it knew when it was written: fields, stages, counts and event
// types the API is gaining (marks and direction in POST, reader verdicts, send stages, `send` and `path` events)
// show up without a change to it. The answers of the API are stood in for here; the page is the real one.
const UI_MS = 20_000
const ID = 'future-session'

let browser: Browser
beforeAll(async () => { browser = await launchBrowser() }, 60_000)
afterAll(async () => { await browser?.close() })

const session = {
  id: ID,
  name: 'tomorrow',
  state: 'running',
  createdAt: new Date().toISOString(),
  startedAt: new Date().toISOString(),
  endedAt: null,
  expiresAt: new Date(Date.now() + 3600_000).toISOString(),
  filter: { ports: [9999] },
  thresholdUs: 1000,
  planRequested: 'auto',
  plan: 'fentry',
  marks: ['arrive', 'backlog', 'enqueue', 'read', 'return', 'send'],
  direction: 'both',
  reader: true,
  kernelRelease: '6.12.0',
  notes: null,
  bufferEvents: 10000,
  ttlSeconds: 3600,
  error: null,
  lastSeq: 3,
  counts: { matched: 7, slow: 3, emitted: 3, kernelLost: 0, evicted: 0, drops: 0, dropsLost: 0, dropsByReason: {}, readerVerdicts: { runqueue: 2, onCpu: 1 }, stale: 0, untracked: 0 }
}

const stage = (count: number, fromNs: number) => ({
  measured: true, count, buckets: [{ fromNs, toNs: fromNs * 2, count }], p50Ns: fromNs * 2, p90Ns: fromNs * 2, p99Ns: fromNs * 2, maxNs: fromNs * 2
})
const histogram = { updatedAt: new Date().toISOString(), matched: 7, stages: { stack: stage(7, 1024), backlog: stage(7, 65536), queue: stage(7, 4194304), total: stage(7, 4194304), sendTotal: stage(4, 8192) } }

const frame = (event: string, data: object, id?: number) => `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
const endpoints = { family: 'ipv4', src: { address: '127.0.0.1', port: 4000 }, dst: { address: '127.0.0.1', port: 9999 }, len: 100 }
const stream = [
  frame('state', { state: 'running', error: null }),
  frame('latency', {
    seq: 1,
    type: 'latency',
    time: '2026-12-06T10:00:00.000001Z',
    latencyNs: 5_000_000,
    slowestStage: 'backlog',
    stages: { stackNs: 900, backlogNs: 4_000_000, queueNs: 999_100, copyNs: null, totalNs: 5_000_000 },
    ...endpoints,
    pid: 1,
    tid: 1,
    comm: 'app',
    cgroupId: '1',
    reader: { verdict: 'runqueue', onCpuNs: 10, runqueueNs: 4_000_000, offCpuNs: 0, waitedBehind: 2 },
    softirq: { cpu: 1, inKsoftirqd: true, waitedBehind: 0 }
  }, 1),
  frame('send', { seq: 2, type: 'send', time: '2026-12-06T10:00:00.000002Z', latencyNs: 12_000, slowestStage: 'qdisc', stages: { sendStackNs: 2000, qdiscNs: 9000, driverNs: 1000, sendTotalNs: 12_000 }, ...endpoints }, 2),
  frame('path', { seq: 3, type: 'path', time: '2026-12-06T10:00:00.000003Z', hops: ['veth0', 'br0'] }, 3),
  frame('state', { state: 'stopped', error: null })
].join('')

describe('the page with fields the API is gaining', () => {
  it('shows new fields, stages, counts and event types, and offers new choices in the form', async () => {
    const { app, base } = await listeningApp()
    const watched = await watchedPage(browser.context)
    const { page } = watched
    try {
      // The API document with POST /v1/sessions gaining `marks` (choices) and `direction` (one of three).
      const doc = app.swagger() as any
      const body = doc.paths['/v1/sessions'].post.requestBody.content['application/json'].schema
      body.properties.marks = { type: 'array', items: { enum: ['arrive', 'backlog', 'enqueue', 'read', 'return', 'send'] }, description: 'Marks to take' }
      body.properties.direction = { enum: ['receive', 'send', 'both'], default: 'receive' }
      await page.route('**/openapi.json', async (route) => await route.fulfill({ json: doc }))
      await page.route(`**/v1/sessions/${ID}`, async (route) => await route.fulfill({ json: session }))
      await page.route(`**/v1/sessions/${ID}/histogram`, async (route) => await route.fulfill({ json: histogram }))
      await page.route(`**/v1/sessions/${ID}/events/stream`, async (route) => await route.fulfill({ contentType: 'text/event-stream', body: stream }))
      let posted: unknown
      await page.route('**/v1/sessions', async (route) => {
        if (route.request().method() !== 'POST') return await route.fallback()
        posted = route.request().postDataJSON()
        await route.fulfill({ status: 201, json: session })
      })

      await page.goto(`${base}/ui`)
      await page.locator('form.create [name="filter.ports"]').fill('9999')
      await page.locator('form.create [name="direction"]').selectOption({ label: 'both' })
      for (const mark of ['backlog', 'send']) await page.locator(`form.create input[name="marks"][value="${mark}"]`).check()
      await page.getByRole('button', { name: 'Start session' }).click()
      await page.waitForURL(`**/ui/sessions/${ID}`, { timeout: UI_MS })
      expect(posted).toEqual({ filter: { ports: [9999] }, marks: ['backlog', 'send'], direction: 'both' })

      await expect.poll(async () => await page.locator('.stream-status').getAttribute('data-connection'), { timeout: UI_MS }).toBe('ended')
      const facts = await page.locator('.session-header .facts').textContent()
      expect(facts).toContain('directionboth')
      expect(facts).toContain('readertrue')
      expect(await page.locator('[data-count="readerVerdicts"]').textContent()).toBe('readerVerdictsrunqueue2onCpu1')
      expect(await page.locator('.chart').getAttribute('data-stages')).toBe('stack backlog queue total sendTotal')
      expect(await page.locator('tr[data-stage="backlog"]').textContent()).toBe('backlog7131 µs131 µs131 µs131 µs')
      const slowestTally = await page.locator('[data-tally="slowest stage"]').textContent()
      expect(slowestTally).toContain('backlog1 (50 %)')
      expect(slowestTally).toContain('qdisc1 (50 %)')
      expect(await page.locator('[data-tally="reader verdict"]').textContent()).toContain('runqueue1 (100 %)')

      const latency = page.locator('tr.event[data-type="latency"]')
      expect(await latency.locator('.stages .slowest').textContent()).toBe('backlog 4 ms')
      expect(await latency.locator('.more').textContent()).toContain('reader={verdict=runqueue onCpuNs=10 runqueueNs=4000000 offCpuNs=0 waitedBehind=2}')
      expect(await latency.locator('.more').textContent()).toContain('softirq={cpu=1 inKsoftirqd=true waitedBehind=0}')
      expect(await page.locator('tr.event[data-type="send"] .stages').textContent()).toBe('sendStack 2 µsqdisc 9 µsdriver 1 µssendTotal 12 µs')
      expect(await page.locator('tr.event[data-type="path"] td:nth-child(3)').textContent()).toBe('path')
      expect(await page.locator('tr.event[data-type="path"] .more').textContent()).toBe('hops=veth0, br0')
      expect(watched.errors).toEqual([])
    } finally {
      await page.close()
    }
  })
})

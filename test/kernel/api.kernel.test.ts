import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { parseFrames } from '../helpers/sse.js'
import { loaderPids, mapsGone, PROBE, ringIdsOf, send, startReceiver } from './workload.js'

// The HTTP surface over the real loader on this host (tracepoint plan): host info, readiness,
// polling against streaming, histograms against counts, and a loader's death.
let app: FastifyInstance
let base: string

beforeAll(async () => {
  app = buildApp({ ...loadConfig([], {}), probePath: PROBE })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  base = `http://127.0.0.1:${address.port}`
})

afterAll(async () => { await app.close() })

const json = async (path: string, init?: RequestInit): Promise<any> => await (await fetch(base + path, init)).json()

async function createSession (port: number): Promise<string> {
  const res = await fetch(`${base}/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ filter: { ports: [port] }, thresholdUs: 0 })
  })
  const session = await res.json() as { id: string, state: string }
  expect(res.status, JSON.stringify(session)).toBe(201)
  expect(session.state).toBe('running')
  return session.id
}

/** Reads an event stream until it ends, or until `until` holds for the text so far (then disconnects). */
async function readStream (path: string, until: (text: string) => boolean = () => false): Promise<string> {
  const res = await fetch(base + path, { headers: { accept: 'text/event-stream' } })
  expect(res.status).toBe(200)
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  let text = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return text
    text += value
    if (until(text)) {
      await reader.cancel()
      return text
    }
  }
}

describe('GET /v1/host and /readyz on this host', () => {
  it('report the kernel with BTF, the tracepoint plan available, and fentry and kprobe not, with reasons', async () => {
    // The service is ready once its hub is warm, a few tens of milliseconds after it listens.
    await vi.waitFor(async () => expect((await fetch(`${base}/readyz`)).status).toBe(200), { timeout: 5000, interval: 20 })
    const host = await json('/v1/host')
    expect(host).toMatchObject({ btf: true, autoPlan: 'tracepoint', limits: { maxSessions: 32 } })
    const plans = Object.fromEntries(host.plans.map((plan: { name: string }) => [plan.name, plan]))
    expect(plans.tracepoint).toEqual({ name: 'tracepoint', available: true, reason: null })
    for (const name of ['fentry', 'kprobe']) {
      expect(plans[name]).toMatchObject({ available: false, reason: expect.stringMatching(/\w/) })
    }
    expect(host.hub).toEqual({ kept: true, running: true, plan: 'tracepoint', error: null })
    expect(await json('/readyz')).toEqual({ status: 'ready', kernel: host.kernel, autoPlan: 'tracepoint', hubPlan: 'tracepoint' })
  })
})

describe('a real session over loopback', () => {
  it('gives polling and streaming the same events, every stage measured, and histograms counting every matched datagram', async () => {
    const count = 20
    const receiver = await startReceiver({ bind: '127.0.0.1:0', count, delayMs: 5 })
    const id = await createSession(receiver.port)
    expect((await json(`/v1/sessions/${id}`)).marks).toEqual(['rx', 'arrive', 'enqueue', 'read', 'return'])
    await send(`127.0.0.1:${receiver.port}`, count, { len: 100 })
    await receiver.done

    // The loader sums its counters and histograms about once a second.
    const session = await vi.waitFor(async () => {
      const current = await json(`/v1/sessions/${id}`)
      expect(current.counts).toMatchObject({ matched: count, emitted: count })
      return current
    }, { timeout: 5000, interval: 100 })
    const polled = await json(`/v1/sessions/${id}/events?after=0&limit=1000`)
    expect(polled.events).toHaveLength(count)
    const streamed = parseFrames(await readStream(`/v1/sessions/${id}/events`, (text) => text.includes(`id: ${count}\n`)))
    expect(streamed[0]).toEqual({ event: 'state', data: { state: 'running', error: null } })
    expect(streamed.slice(1).map((frame) => [frame.id, frame.event])).toEqual(polled.events.map((event: { seq: number }) => [String(event.seq), 'latency']))
    expect(streamed.slice(1).map((frame) => frame.data)).toEqual(polled.events)
    for (const event of polled.events) {
      expect(event.stages).toMatchObject({ copyNs: expect.any(Number), queueNs: expect.any(Number), totalNs: expect.any(Number) })
    }

    const { matched, stages } = await vi.waitFor(async () => {
      const histogram = await json(`/v1/sessions/${id}/histogram`)
      expect(histogram.matched).toBe(session.counts.matched)
      return histogram
    }, { timeout: 3000, interval: 100 })
    for (const stage of ['stack', 'queue', 'copy', 'total']) expect({ stage, count: stages[stage].count }).toEqual({ stage, count: matched })
    // Every datagram waited at least the receiver's 5 ms delay in the queue.
    expect(stages.queue.p50Ns).toBeGreaterThanOrEqual(5_000_000)

    expect((await fetch(`${base}/v1/sessions/${id}`, { method: 'DELETE' })).status).toBe(204)
  })

  it('fails with the loader\'s reason when the loader is killed, and says so on its event stream', async () => {
    const receiver = await startReceiver({ bind: '127.0.0.1:0', count: 1, timeoutMs: 5000 })
    const id = await createSession(receiver.port)
    const [loader] = loaderPids(`--port ${receiver.port}`)
    expect(loader).toBeDefined()
    const rings = ringIdsOf(loader!)
    expect(rings).toHaveLength(1)
    const stream = readStream(`/v1/sessions/${id}/events/stream`)
    // Wait until the stream has started before killing.
    await vi.waitFor(() => expect(app.sessions.get(id).streams.open).toBe(1))
    process.kill(loader!, 'SIGKILL')

    const frames = parseFrames(await stream)
    const reason = 'the loader was killed by SIGKILL'
    expect(frames).toEqual([
      { event: 'state', data: { state: 'running', error: null } },
      { event: 'state', data: { state: 'failed', error: expect.stringContaining(reason) } }
    ])
    expect(await json(`/v1/sessions/${id}`)).toMatchObject({ state: 'failed', error: expect.stringContaining(reason) })
    // Its slot in the hub is freed with its ring buffer.
    expect(await mapsGone(rings)).toEqual([])
    expect((await fetch(`${base}/v1/sessions/${id}`, { method: 'DELETE' })).status).toBe(204)
    await send(`127.0.0.1:${receiver.port}`, 1)
    await receiver.done
  })
})

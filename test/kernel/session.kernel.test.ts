import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { hubPids, loaderPids, PROBE, programIdsOf, programNames, TRACEPOINT_PROGRAMS, programsDetached, send, sessionProgramIds, startReceiver } from './workload.js'

// The real service on an ephemeral port, the real loader, real sockets: the end-to-end slice.
let app: FastifyInstance
let base: string

beforeAll(async () => {
  app = buildApp({ ...loadConfig([], {}), port: 0, probePath: PROBE })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  base = `http://127.0.0.1:${address.port}`
})

afterAll(async () => { await app.close() })

interface LatencyEvent { seq: number, type: string, latencyNs: number, dst: { port: number }, src: { port: number }, len: number, pid: number, comm: string }

async function api (method: string, path: string, body?: unknown): Promise<{ status: number, json: any, headers: Headers }> {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await res.text()
  return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers }
}

async function pollEvents (id: string, want: number, timeoutMs = 5000): Promise<LatencyEvent[]> {
  const deadline = Date.now() + timeoutMs
  let events: LatencyEvent[] = []
  while (Date.now() < deadline) {
    const res = await api('GET', `/v1/sessions/${id}/events?after=0&limit=1000`)
    events = res.json.events
    if (events.length >= want) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return events
}

describe.each([
  { family: 'ipv4', bind: '127.0.0.1', to: (port: number) => `127.0.0.1:${port}` },
  { family: 'ipv6', bind: '[::1]', to: (port: number) => `[::1]:${port}` }
])('a session over $family loopback', ({ bind, to }) => {
  it('reports each slow datagram once, within 1 ms of the receiver, and only on its port; DELETE stops its programs', async () => {
    const count = 10
    const traced = await startReceiver({ bind: `${bind}:0`, count, delayMs: 20 })
    const other = await startReceiver({ bind: `${bind}:0`, count, delayMs: 20 })

    const created = await api('POST', '/v1/sessions', { filter: { ports: [traced.port] }, thresholdUs: 0 })
    expect(created.status, JSON.stringify(created.json)).toBe(201)
    expect(created.json.state).toBe('running')
    expect(created.headers.get('location')).toBe(`/v1/sessions/${created.json.id}`)
    const id: string = created.json.id
    const loaders = loaderPids(`--port ${traced.port}`)
    expect(loaders).toHaveLength(1)
    // The service's loaders join the host's hub, which holds the programs.
    expect(programIdsOf(loaders[0]!)).toEqual([])
    expect(hubPids()).toHaveLength(1)
    const programs = sessionProgramIds(loaders[0]!)
    // The hub's one program set: the tracepoint plan's.
    expect(programNames(programs)).toEqual(TRACEPOINT_PROGRAMS)

    await Promise.all([send(to(traced.port), count, { len: 100 }), send(to(other.port), count, { len: 200 })])
    const truth = await traced.done
    await other.done
    expect(truth).toHaveLength(count)

    const events = await pollEvents(id, count)
    // Let a duplicate, if any, arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 200))
    const final = await pollEvents(id, count)
    expect(final).toHaveLength(count)
    expect(events.map((e) => e.seq)).toEqual(final.slice(0, events.length).map((e) => e.seq))
    const errorsUs = final.map((event, i) => {
      expect(event.type).toBe('latency')
      expect(event.dst.port).toBe(traced.port)
      expect(event.len).toBe(100)
      expect(event.pid).toBe(traced.pid)
      expect(event.comm).toBe('udpwork')
      return (event.latencyNs - truth[i]!.waitNs) / 1000
    })
    console.log(`latency error vs SO_TIMESTAMPNS (us): ${errorsUs.map((e) => e.toFixed(1)).join(' ')}`)
    for (const errorUs of errorsUs) expect(Math.abs(errorUs)).toBeLessThanOrEqual(1000)

    // Counters come from the loader's periodic stats record (every second).
    const deadline = Date.now() + 3000
    let counts = (await api('GET', `/v1/sessions/${id}`)).json.counts
    while (counts.emitted < count && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      counts = (await api('GET', `/v1/sessions/${id}`)).json.counts
    }
    expect(counts).toMatchObject({ matched: count, slow: count, emitted: count, kernelLost: 0, evicted: 0 })

    expect((await api('DELETE', `/v1/sessions/${id}`)).status).toBe(204)
    expect(loaderPids(`--port ${traced.port}`)).toEqual([])
    // The hub the service keeps warm stays, its programs loaded but attached nowhere while no session needs them.
    expect(await programsDetached(programs)).toEqual([])
    expect(hubPids()).toHaveLength(1)
    expect((await api('GET', `/v1/sessions/${id}`)).status).toBe(404)
  })
})

describe('a session that cannot start', () => {
  it('fails with the loader\'s reason and leaves nothing behind', async () => {
    // The service checks the cgroup before any loader runs, and this one does not exist.
    const res = await api('POST', '/v1/sessions', { filter: { ports: [9], cgroup: '/udplat-test/none' } })
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toContain('application/problem+json')
    expect(res.json.detail).toMatch(/\/udplat-test\/none is not a cgroup v2 directory$/)
    expect((await api('GET', '/v1/sessions')).json.sessions).toHaveLength(0)
    expect(loaderPids('udplat-test/none')).toEqual([])
  })
})

import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { loaderChildren } from '../reliability/proc.js'
import { listeningService, serviceProcess } from '../reliability/service.js'
import { type RunningProbe, sleep, startProbe } from './probe.js'
import { attachedProgramIds, hubPids, programNames, RECEIVE_PROGRAMS, TRACEPOINT_PROGRAMS, keeperPids, loaderPids, mapsGone, programIdsOf, programsDetached, programsGone, ringIdsOf, send, startReceiver } from './workload.js'

// The service's sessions share one hub (bpf/user/hub.h): one program set for all, each session with its own
// filter, counts, ring buffer and loader. Ports 24000-24299 are this file's. The hub the service keeps warm
// has a describe of its own at the end; before it, the hub lives on demand, as for loaders run by hand.
let service: Awaited<ReturnType<typeof listeningService>>

beforeAll(async () => { service = await listeningService({ loaderStatsIntervalMs: 100, warmHub: false }) })
afterAll(async () => { await service.app.close() })

async function createSession (filter: object): Promise<string> {
  const res = await service.call('POST', '/v1/sessions', { filter, thresholdUs: 0 })
  expect(res.status, JSON.stringify(res.json)).toBe(201)
  return res.json.id
}

/** Sends `count` datagrams to a receiver at `bind`:`port` and waits until it has read them all. */
async function traffic (bind: string, port: number, count: number): Promise<void> {
  const receiver = await startReceiver({ bind: `${bind}:${port}`, count })
  await send(`${bind}:${port}`, count, { len: 80 })
  expect(await receiver.done).toHaveLength(count)
}

/** A session's events and counts once it has seen `count` events (stats arrive every 100 ms). */
async function seen (id: string, count: number): Promise<{ ports: number[], matched: number }> {
  return await vi.waitFor(async () => {
    const session = (await service.call('GET', `/v1/sessions/${id}`)).json
    const events = (await service.call('GET', `/v1/sessions/${id}/events?after=0&limit=1000`)).json.events as Array<{ dst: { port: number } }>
    expect(events).toHaveLength(count)
    expect(session.counts.matched).toBe(count)
    return { ports: events.map((e) => e.dst.port), matched: session.counts.matched }
  }, { timeout: 3000, interval: 50 })
}

describe('sessions sharing one hub', () => {
  it('run on one set of programs, yet each sees only its own traffic, counted on its own', async () => {
    const byPort = await createSession({ ports: [24001] })
    const otherPort = await createSession({ ports: [24002] })
    // No port filter: the dispatcher routes by address instead.
    const byAddress = await createSession({ localAddrs: ['127.0.0.2/32'] })
    const hubs = hubPids()
    expect(hubs).toHaveLength(1)
    const programs = programIdsOf(hubs[0]!)
    // One program set for the three sessions.
    expect(programNames(programs)).toEqual(TRACEPOINT_PROGRAMS)
    for (const port of [24001, 24002]) expect(programIdsOf(loaderPids(`--port ${port} `)[0]!)).toEqual([])

    await traffic('127.0.0.1', 24001, 5)
    await traffic('127.0.0.1', 24002, 7)
    await traffic('127.0.0.2', 24003, 3)
    expect(await seen(byPort, 5)).toEqual({ ports: Array(5).fill(24001), matched: 5 })
    expect(await seen(otherPort, 7)).toEqual({ ports: Array(7).fill(24002), matched: 7 })
    expect(await seen(byAddress, 3)).toEqual({ ports: Array(3).fill(24003), matched: 3 })

    // Deleting one frees its slot and ring; the others keep their counts and their traffic.
    const rings = ringIdsOf(loaderPids('--port 24001 ')[0]!)
    expect(rings).toHaveLength(1)
    expect((await service.call('DELETE', `/v1/sessions/${byPort}`)).status).toBe(204)
    expect(await mapsGone(rings)).toEqual([])
    await traffic('127.0.0.1', 24002, 2)
    expect(await seen(otherPort, 9)).toEqual({ ports: Array(9).fill(24002), matched: 9 })

    // A new session on the deleted one's port starts from nothing.
    const again = await createSession({ ports: [24001] })
    await traffic('127.0.0.1', 24001, 1)
    expect(await seen(again, 1)).toEqual({ ports: [24001], matched: 1 })
    expect(hubPids()).toEqual(hubs)

    for (const id of [otherPort, byAddress, again]) expect((await service.call('DELETE', `/v1/sessions/${id}`)).status).toBe(204)
    // With its last session gone, the hub exits and its programs go.
    await vi.waitFor(() => expect(hubPids()).toEqual([]), { timeout: 2000 })
    expect(await programsGone(programs)).toEqual([])
  })

  it('fail every session with the reason when the hub is killed; the next session starts a new hub', async () => {
    const ids = [await createSession({ ports: [24011] }), await createSession({ ports: [24012] })]
    const [hub, ...others] = hubPids()
    expect(others).toEqual([])
    process.kill(hub!, 'SIGKILL')
    for (const id of ids) {
      await vi.waitFor(async () => expect((await service.call('GET', `/v1/sessions/${id}`)).json).toMatchObject({
        state: 'failed',
        error: "the hub that ran this session's probes exited"
      }), { timeout: 2000, interval: 20 })
    }
    expect(loaderPids('--port 2401')).toEqual([])

    const next = await createSession({ ports: [24013] })
    const [newHub] = hubPids()
    expect(newHub).not.toBe(hub)
    await traffic('127.0.0.1', 24013, 2)
    expect(await seen(next, 2)).toEqual({ ports: [24013, 24013], matched: 2 })
    for (const id of [...ids, next]) expect((await service.call('DELETE', `/v1/sessions/${id}`)).status).toBe(204)
  })
})

describe('a hub asked to stop', () => {
  it('keeps serving its loaders after SIGTERM (systemd stops the whole cgroup at once) and exits after the last', async () => {
    const probe = await startProbe(['--shared', '--port', '24020', '--threshold-us', '0'])
    const [hub, ...others] = hubPids()
    expect(others).toEqual([])
    process.kill(hub!, 'SIGTERM')
    await traffic('127.0.0.1', 24020, 2)
    expect(hubPids()).toEqual([hub])
    const run = await probe.stop()
    expect(run.events).toHaveLength(2)
    await vi.waitFor(() => expect(hubPids()).toEqual([]), { timeout: 2000 })
  })
})

describe('a full hub', () => {
  it('serves 64 sessions; the 65th --shared loader loads programs of its own and still measures', async () => {
    const probes: RunningProbe[] = []
    try {
      for (let i = 0; i < 64; i++) probes.push(await startProbe(['--shared', '--port', String(24100 + i), '--threshold-us', '0']))
      expect(probes.every((probe) => programIdsOf(probe.pid).length === 0)).toBe(true)
      expect(hubPids()).toHaveLength(1)
      const extra = await startProbe(['--shared', '--port', '24099', '--threshold-us', '0'])
      probes.push(extra)
      expect(programNames(programIdsOf(extra.pid))).toEqual(TRACEPOINT_PROGRAMS)
      await traffic('127.0.0.1', 24163, 2)
      await traffic('127.0.0.1', 24099, 3)
      // The last session the hub took, and the one it could not.
      const runs = await Promise.all(probes.splice(-2).map(async (probe) => await probe.stop()))
      expect(runs.map((run) => run.events.length)).toEqual([2, 3])
    } finally {
      await Promise.all(probes.map(async (probe) => await probe.stop()))
    }
    await vi.waitFor(() => expect(hubPids()).toEqual([]), { timeout: 2000 })
  })
})

describe('the hub the service keeps warm', () => {
  it('runs from the service\'s start, attaches its programs only while a session needs them, comes back when killed, and goes with the service', async () => {
    const warm = await listeningService({ loaderStatsIntervalMs: 100, hubRestartMs: 200 })
    const ready = async () => await vi.waitFor(async () => {
      const res = await warm.call('GET', '/readyz')
      expect(res.status).toBe(200)
      return res.json
    }, { timeout: 5000, interval: 20 })
    try {
      expect(await ready()).toMatchObject({ hubPlan: 'tracepoint' })
      const [hub, ...others] = hubPids()
      expect(others).toEqual([])
      expect(keeperPids()).toHaveLength(1)
      const programs = programIdsOf(hub!)
      expect(programNames(programs)).toEqual(TRACEPOINT_PROGRAMS)
      // Loaded and verified, attached to nothing: an idle service costs the host's packets nothing.
      expect(await programsDetached(programs)).toEqual([])

      const res = await warm.call('POST', '/v1/sessions', { filter: { ports: [24201] }, thresholdUs: 0 })
      expect(res.status, JSON.stringify(res.json)).toBe(201)
      const attached = attachedProgramIds()
      // A receiving session's: the sending side's programs stay detached.
      expect(programNames(programs.filter((id) => attached.has(id)))).toEqual(RECEIVE_PROGRAMS)
      await traffic('127.0.0.1', 24201, 3)
      await vi.waitFor(async () => expect((await warm.call('GET', `/v1/sessions/${res.json.id}/events`)).json.events).toHaveLength(3))
      expect((await warm.call('DELETE', `/v1/sessions/${res.json.id}`)).status).toBe(204)
      expect(await programsDetached(programs)).toEqual([])
      expect(hubPids()).toEqual([hub])

      process.kill(hub!, 'SIGKILL')
      // The killed hub stays in /proc for a moment, and the new one comes after the keeper's restart delay.
      const again = await vi.waitFor(() => {
        const pids = hubPids()
        expect(pids).toHaveLength(1)
        expect(pids[0]).not.toBe(hub)
        return pids[0]
      }, { timeout: 5000, interval: 20 })
      expect((await ready()).hubPlan).toBe('tracepoint')
      const next = await warm.call('POST', '/v1/sessions', { filter: { ports: [24202] }, thresholdUs: 0 })
      expect(next.status).toBe(201)
      expect(hubPids()).toEqual([again])
      await traffic('127.0.0.1', 24202, 2)
      await vi.waitFor(async () => expect((await warm.call('GET', `/v1/sessions/${next.json.id}/events`)).json.events).toHaveLength(2))
    } finally {
      await warm.app.close()
    }
    await vi.waitFor(() => expect([...hubPids(), ...keeperPids()]).toEqual([]), { timeout: 5000 })
  }, 60_000)

  it('is ready while its hub answers: not within 1 s of the hub stopping, when a POST fails fast; its keeper\'s death is no false alarm', async () => {
    const warm = await listeningService({ loaderStatsIntervalMs: 100 })
    const readyz = async () => await warm.call('GET', '/readyz')
    const post = async (port: number) => await warm.call('POST', '/v1/sessions', { filter: { ports: [port] }, thresholdUs: 0 })
    let stopped: number | undefined
    try {
      await vi.waitFor(async () => expect((await readyz()).status).toBe(200), { timeout: 5000, interval: 20 })
      const [hub, ...others] = hubPids()
      expect(others).toEqual([])
      const [keeper] = keeperPids()
      // The keeper killed while the hub serves a session: still ready, and another keeper joins that hub at once
      // (the keeper has run for longer than hubRestartMs, 1 s).
      const session = await post(24206)
      expect(session.status, JSON.stringify(session.json)).toBe(201)
      await sleep(1100)
      process.kill(keeper!, 'SIGKILL')
      const statuses: number[] = []
      for (const killedAt = performance.now(); performance.now() - killedAt < 1500; await sleep(10)) statuses.push((await readyz()).status)
      expect(statuses.filter((status) => status !== 200)).toEqual([])
      const [next, ...more] = keeperPids()
      expect(more).toEqual([])
      expect(next).not.toBe(keeper)
      expect(hubPids()).toEqual([hub])
      await traffic('127.0.0.1', 24206, 2)
      await vi.waitFor(async () => expect((await warm.call('GET', `/v1/sessions/${session.json.id}/events`)).json.events).toHaveLength(2))
      expect((await warm.call('DELETE', `/v1/sessions/${session.json.id}`)).status).toBe(204)

      process.kill(hub!, 'SIGSTOP')
      stopped = hub
      const stoppedAt = performance.now()
      const sinceStop = async <T>(request: Promise<T>) => ({ ...await request, ms: performance.now() - stoppedAt })
      // Sent before the service could know: its loader gives up on the hub after 2 s.
      const first = sinceStop(post(24203))
      const notReady = await vi.waitFor(async () => {
        const res = await sinceStop(readyz())
        expect(res.status).toBe(503)
        return res
      }, { timeout: 3000, interval: 10 })
      console.log(`hub stopped: /readyz 503 after ${notReady.ms.toFixed(0)} ms: ${notReady.json.detail}`)
      expect(notReady.ms).toBeLessThan(1000)
      expect(notReady.json).toMatchObject({ code: 'UDPLAT_NOT_READY', detail: expect.stringMatching(/^the hub has not answered for \d+\.\d s: it is stopped or stuck$/) })
      // Sent once the service knows: refused at once, with no loader run.
      const askedAt = performance.now()
      const refused = await post(24204)
      const refusedMs = performance.now() - askedAt
      expect(refused.json).toMatchObject({ status: 503, code: 'UDPLAT_NOT_READY', detail: expect.stringMatching(/^the hub has not answered for \d+\.\d s: it is stopped or stuck$/) })
      expect(refusedMs).toBeLessThan(500)
      expect(loaderPids('--port 24204 ')).toEqual([])
      const late = await first
      console.log(`hub stopped: a POST sent at once answered ${late.status} after ${late.ms.toFixed(0)} ms: ${late.json.detail}; one sent after /readyz said so, ${refused.status} after ${refusedMs.toFixed(0)} ms`)
      expect(late.json).toMatchObject({ status: 503, code: 'UDPLAT_LOADER_FAILED', detail: 'failed to join the hub: it did not answer within 2 s' })
      expect(late.ms).toBeLessThan(3000)

      process.kill(hub!, 'SIGCONT')
      stopped = undefined
      await vi.waitFor(async () => expect((await readyz()).status).toBe(200), { timeout: 1000, interval: 10 })
      const res = await post(24205)
      expect(res.status, JSON.stringify(res.json)).toBe(201)
      expect(hubPids()).toEqual([hub])
      await traffic('127.0.0.1', 24205, 2)
      await vi.waitFor(async () => expect((await warm.call('GET', `/v1/sessions/${res.json.id}/events`)).json.events).toHaveLength(2))
    } finally {
      if (stopped !== undefined) process.kill(stopped, 'SIGCONT')
      await warm.app.close()
    }
    await vi.waitFor(() => expect([...hubPids(), ...keeperPids()]).toEqual([]), { timeout: 5000 })
  }, 60_000)
})

describe('a session created right after another\'s deletion', () => {
  /** The ids of the links that attach the programs `ids`: a program detached and attached again has a new one. */
  const linkIdsOf = (ids: number[]) => (JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' })) as Array<{ id: number, prog_id: number }>)
    .filter((link) => ids.includes(link.prog_id)).map((link) => link.id).sort((a, b) => a - b)

  it('finds nothing of its teardown on its path: the programs still attached, its ring made ahead', async () => {
    const warm = await listeningService({ loaderStatsIntervalMs: 100 })
    const post = async (port: number) => await warm.call('POST', '/v1/sessions', { filter: { ports: [port] }, thresholdUs: 0 })
    try {
      await vi.waitFor(async () => expect((await warm.call('GET', '/readyz')).status).toBe(200), { timeout: 5000, interval: 20 })
      const [hub] = hubPids()
      const programs = programIdsOf(hub!)
      // Two rings made ahead (the hub holds nothing else of a ring), so that two sessions in a row find theirs.
      await vi.waitFor(() => expect(ringIdsOf(hub!)).toHaveLength(2))
      const first = await post(24207)
      expect(first.status, JSON.stringify(first.json)).toBe(201)
      const links = linkIdsOf(programs)
      expect(links).toHaveLength(RECEIVE_PROGRAMS.length)
      expect((await warm.call('DELETE', `/v1/sessions/${first.json.id}`)).status).toBe(204)
      const next = await post(24208)
      expect(next.status, JSON.stringify(next.json)).toBe(201)
      // The same links: not detached and attached again, which waits for an RCU grace period.
      expect(linkIdsOf(programs)).toEqual(links)
      await traffic('127.0.0.1', 24208, 2)
      await vi.waitFor(async () => expect((await warm.call('GET', `/v1/sessions/${next.json.id}/events`)).json.events).toHaveLength(2))
      expect((await warm.call('DELETE', `/v1/sessions/${next.json.id}`)).status).toBe(204)
      // With no session for a while, they go; the rings of the two sessions go, and two are made ahead again.
      expect(await programsDetached(programs)).toEqual([])
      await vi.waitFor(() => expect(ringIdsOf(hub!)).toHaveLength(2))
    } finally {
      await warm.app.close()
    }
    await vi.waitFor(() => expect([...hubPids(), ...keeperPids()]).toEqual([]), { timeout: 5000 })
  }, 60_000)
})

describe('the service\'s children', () => {
  const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter((entry) => entry !== '')

  it('run with PATH for their whole environment, the hub with none: nothing of the service\'s, its token least of all', async () => {
    const token = 'a-token-that-no-child-may-see'
    const server = await serviceProcess({ UDPLAT_TOKEN: token })
    try {
      await vi.waitFor(async () => expect((await server.call('GET', '/readyz')).status).toBe(200), { timeout: 5000, interval: 20 })
      const res = await server.call('POST', '/v1/sessions', { filter: { ports: [24210] } })
      expect(res.status, JSON.stringify(res.json)).toBe(201)
      const [loader] = loaderChildren(server.child.pid)
      const [keeper] = keeperPids()
      const [hub] = hubPids()
      expect(environ(loader!)).toEqual([`PATH=${process.env.PATH}`])
      expect(environ(keeper!)).toEqual([`PATH=${process.env.PATH}`])
      expect(environ(hub!)).toEqual([])
    } finally {
      server.child.kill('SIGTERM')
    }
    await vi.waitFor(() => expect([...hubPids(), ...keeperPids()]).toEqual([]), { timeout: 10_000 })
  })
})

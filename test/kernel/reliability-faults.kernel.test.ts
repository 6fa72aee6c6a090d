import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { kernelStack, loaderChildren } from '../reliability/proc.js'
import { listeningService, serviceProcess } from '../reliability/service.js'
import { sleep } from './probe.js'
import { hubPids, keeperPids, loadedProgramIds, loaderPids, mapsGone, PROBE, programIdsOf, programNames, programsDetached, programsGone, ringIdsOf, send, sessionProgramIds, startReceiver, TRACEPOINT_PROGRAMS, UDPWORK } from './workload.js'

// Faults with the real loader: a loader killed or stopped, the service killed, the loader's output closed or full.
// Ports 23100-23199 are this file's; loaders are told apart by their --port.

const STATS_INTERVAL_MS = 100
let service: Awaited<ReturnType<typeof listeningService>>

// No warm hub in this process: the service killed below must be the only one holding a hub.
beforeAll(async () => { service = await listeningService({ loaderStatsIntervalMs: STATS_INTERVAL_MS, warmHub: false }) })
afterAll(async () => { await service.app.close() })

/** A session, its loader, the programs serving it (its hub's) and its own ring buffer, whose freeing frees its slot in the hub. */
async function createSession (port: number): Promise<{ id: string, loader: number, programs: number[], rings: number[] }> {
  const res = await service.call('POST', '/v1/sessions', { filter: { ports: [port] }, thresholdUs: 0 })
  expect(res.status, JSON.stringify(res.json)).toBe(201)
  const [loader, ...others] = loaderPids(`--port ${port} `)
  expect(others).toEqual([])
  return { id: res.json.id, loader: loader!, programs: sessionProgramIds(loader!), rings: ringIdsOf(loader!) }
}

const sessionOf = async (id: string) => (await service.call('GET', `/v1/sessions/${id}`)).json

async function exitOf (child: ChildProcess): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
  return await new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
}

describe('a loader that dies or stops', () => {
  it('SIGKILL: its session fails with the reason and its slot in the hub goes; the other sessions keep capturing', async () => {
    const ports = [23101, 23102, 23103]
    const sessions = await Promise.all(ports.map(createSession))
    const [first, killed, third] = sessions as [typeof sessions[0], typeof sessions[0], typeof sessions[0]]

    process.kill(killed.loader, 'SIGKILL')
    const failed = await vi.waitFor(async () => {
      const session = await sessionOf(killed.id)
      expect(session.state).toBe('failed')
      return session
    }, { timeout: 2000 })
    expect(failed.error).toBe('the loader was killed by SIGKILL')
    expect(failed.endedAt).not.toBeNull()
    expect(killed.rings).toHaveLength(1)
    expect(await mapsGone(killed.rings)).toEqual([])

    // The others still run, with every program, and still see their traffic.
    for (const { id, port } of [{ ...first, port: ports[0]! }, { ...third, port: ports[2]! }]) {
      const receiver = await startReceiver({ bind: `127.0.0.1:${port}`, count: 5 })
      await send(`127.0.0.1:${port}`, 5)
      await receiver.done
      await vi.waitFor(async () => expect((await service.call('GET', `/v1/sessions/${id}/events`)).json).toMatchObject({ events: { length: 5 } }))
      expect((await sessionOf(id)).state).toBe('running')
    }
    const loaded = loadedProgramIds()
    expect([...first.programs, ...third.programs].filter((id) => !loaded.has(id))).toEqual([])
    for (const { id } of [first, third]) expect((await service.call('DELETE', `/v1/sessions/${id}`)).status).toBe(204)
    // With no session left, the warm hub's programs run nowhere.
    expect(await programsDetached([...first.programs, ...third.programs])).toEqual([])
  })

  it('SIGSTOP: the watchdog fails the session after five silent stats intervals, kills the loader, and its slot in the hub goes', async () => {
    const stuck = await createSession(23111)
    const stoppedAt = Date.now()
    process.kill(stuck.loader, 'SIGSTOP')
    const failed = await vi.waitFor(async () => {
      const session = await sessionOf(stuck.id)
      expect(session.state).toBe('failed')
      return session
    }, { timeout: 5000, interval: 20 })
    const detectedMs = Date.now() - stoppedAt
    console.log(`stopped loader reported after ${detectedMs} ms (stats every ${STATS_INTERVAL_MS} ms): ${failed.error}`)
    expect(failed.error).toMatch(/^the loader stopped responding: no record for \d+\.\d s$/)
    expect(detectedMs).toBeLessThan(5 * STATS_INTERVAL_MS + 1000)
    expect(loaderPids('--port 23111 ')).toEqual([])
    expect(await mapsGone(stuck.rings)).toEqual([])
    // Its hub, with no session left, runs its programs nowhere.
    expect(await programsDetached(stuck.programs)).toEqual([])
  })
})

describe('the service killed with SIGKILL', () => {
  /** Whether a process has exited (a zombie has: its descriptors are closed); its stack says nothing while it runs. */
  function hasExited (pid: number): boolean {
    try {
      return /^\d+ \(.*\) [ZX] /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
    } catch {
      return true
    }
  }

  /**
   * SIGKILLs the service, then watches until none of `pids` runs and none of `programs` is loaded (5 s at most):
   * how long each took.
   */
  async function killAndWatch (server: Awaited<ReturnType<typeof serviceProcess>>, pids: number[], programs: number[]) {
    const exited = exitOf(server.child)
    const killedAt = performance.now()
    server.child.kill('SIGKILL')
    let processesGoneMs: number | undefined
    let left: number[] = programs
    while ((processesGoneMs === undefined || left.length > 0) && performance.now() - killedAt < 5000) {
      if (pids.every(hasExited)) processesGoneMs ??= performance.now() - killedAt
      const loaded = loadedProgramIds()
      left = programs.filter((id) => loaded.has(id))
      await sleep(5)
    }
    expect(await exited).toEqual({ code: null, signal: 'SIGKILL' })
    return { processesGoneMs, programsGoneMs: performance.now() - killedAt, left }
  }

  it('leaves no loader, no hub keeper, no hub and no BPF program of its own within 1 s (PR_SET_PDEATHSIG)', async () => {
    const server = await serviceProcess()
    try {
      for (const port of [23121, 23122, 23123, 23124]) {
        const res = await server.call('POST', '/v1/sessions', { filter: { ports: [port] } })
        expect(res.status, JSON.stringify(res.json)).toBe(201)
      }
      const loaders = loaderChildren(server.child.pid)
      expect(loaders).toHaveLength(4)
      // One hub serves the 4 sessions with one set of programs.
      const programs = [...new Set(loaders.flatMap(sessionProgramIds))]
      expect(programNames(programs)).toEqual(TRACEPOINT_PROGRAMS)
      const hubs = hubPids()
      expect(hubs).toHaveLength(1)
      const keepers = keeperPids()
      expect(keepers).toHaveLength(1)

      const { processesGoneMs, programsGoneMs, left } = await killAndWatch(server, [...loaders, ...keepers, ...hubs], programs)
      console.log(`service SIGKILLed with 4 sessions: loaders, hub keeper and hub gone after ${processesGoneMs?.toFixed(0)} ms, their BPF programs after ${programsGoneMs.toFixed(0)} ms`)
      expect(left).toEqual([])
      expect(processesGoneMs).toBeLessThan(1000)
      expect(programsGoneMs).toBeLessThan(1000)
    } finally {
      server.child.kill('SIGKILL')
    }
  })

  it('leaves no hub that a session\'s loader was starting within 1 s: the hub goes with the loader that started it', async () => {
    const server = await serviceProcess()
    try {
      await vi.waitFor(async () => expect((await server.call('GET', '/readyz')).status).toBe(200), { timeout: 5000, interval: 20 })
      const [warm, ...others] = hubPids()
      expect(others).toEqual([])
      // The keeper follows its hub and is started again only after a second: meanwhile, a session's loader starts the hub.
      process.kill(warm!, 'SIGKILL')
      await vi.waitFor(() => expect([...hubPids(), ...keeperPids()]).toEqual([]), { timeout: 2000, interval: 5 })
      const posting = server.call('POST', '/v1/sessions', { filter: { ports: [23125] } }).catch(() => undefined)
      // Caught while it loads its programs, before its loader has joined it.
      const hub = await vi.waitFor(() => {
        const [started] = hubPids()
        expect(started).toBeDefined()
        return started!
      }, { timeout: 5000, interval: 1 })
      const starting = [...loaderChildren(server.child.pid), hub]
      const { processesGoneMs } = await killAndWatch(server, starting, [])
      await posting
      console.log(`service SIGKILLed while its loader started the hub: loader and hub gone after ${processesGoneMs?.toFixed(0)} ms`)
      expect(processesGoneMs).toBeLessThan(1000)
    } finally {
      server.child.kill('SIGKILL')
    }
  })
})

describe('the loader\'s output closed or full', () => {
  const loaderArgs = (port: number) => ['--format', 'bin', '--port', String(port), '--threshold-us', '0']

  it.each([
    { output: 'a pipe whose reader has gone', port: 23131 },
    { output: '/dev/full', port: 23132 }
  ])('writing to $output, it exits with an error at once, leaving no program', async ({ output, port }) => {
    const full = output === '/dev/full' ? openSync('/dev/full', 'w') : undefined
    const startedAt = performance.now()
    const child = spawn(PROBE, loaderArgs(port), { stdio: ['ignore', full ?? 'pipe', 'pipe'] })
    if (full === undefined) child.stdout!.destroy()
    else closeSync(full)
    const { code } = await exitOf(child)
    const elapsedMs = performance.now() - startedAt
    console.log(`loader writing to ${output}: exit code ${code} after ${elapsedMs.toFixed(0)} ms`)
    expect(code).toBe(1)
    expect(elapsedMs).toBeLessThan(2000)
    expect(loaderPids(`--port ${port} `)).toEqual([])
  })

  /** Starts a loader whose output nobody reads, floods its port until it blocks writing, SIGTERMs it: how it ends, and when. */
  async function blockThenTerminate (port: number) {
    const child = spawn(PROBE, loaderArgs(port), { stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = exitOf(child)
    // The hello: the probes are attached. From then on nothing reads the output.
    await new Promise((resolve) => child.stdout.once('readable', resolve))
    const programs = programIdsOf(child.pid!)
    const sink = spawn(UDPWORK, ['sink', '--bind', `127.0.0.1:${port}`, '--seconds', '10'])
    await new Promise((resolve) => sink.stdout.once('data', resolve))
    const flood = spawn(UDPWORK, ['flood', '--to', `127.0.0.1:${port}`, '--seconds', '10'])
    try {
      await vi.waitFor(() => expect(kernelStack(child.pid!)).toContain('ksys_write'), { timeout: 5000, interval: 20 })
      // Still blocked a moment later: the output stays full.
      await sleep(100)
      expect(kernelStack(child.pid!)).toContain('ksys_write')
      const termAt = performance.now()
      child.kill('SIGTERM')
      const exit = await Promise.race([exited, sleep(3000).then(() => ({ code: null, signal: null, stack: kernelStack(child.pid!) }))])
      return { exit, elapsedMs: performance.now() - termAt, programs }
    } finally {
      flood.kill()
      sink.kill()
      child.kill('SIGKILL')
    }
  }

  // Once stopping, the loader waits at most 100 ms for room in its output and an alarm interrupts a blocked write.
  it('blocked writing to output nobody reads (the socket pair a service gives it), it exits at SIGTERM, five times in five', async () => {
    for (const port of [23141, 23142, 23143, 23144, 23145]) {
      const { exit, elapsedMs, programs } = await blockThenTerminate(port)
      console.log(`loader blocked writing to unread output: ${JSON.stringify(exit)} ${elapsedMs.toFixed(0)} ms after SIGTERM`)
      expect(exit).toEqual({ code: 1, signal: null })
      expect(elapsedMs).toBeLessThan(1000)
      expect(await programsGone(programs)).toEqual([])
    }
  })
})

import { execFileSync, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { copyFileSync, readdirSync, readFileSync } from 'node:fs'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BPF_CAPS_MASK, credentials, ids, installTree, unitService, type InstalledTree, type UnitService } from '../deploy/tree.js'
import { programsDetached, sessionProgramIds } from './workload.js'

// Privilege separation, for real: the service runs as an unprivileged user, started the way
// systemd/udplat.service starts it, and only the loader, through its file capabilities, loads BPF.
let tree: InstalledTree
let user: { uid: number, gid: number }
let service: UnitService
let dropPrivileges: string[]
let probe: string

beforeAll(() => {
  tree = installTree([], 'k')
  user = ids(tree.user)
  service = unitService(tree)
  ;({ dropPrivileges, probe } = service)
  console.log(`kernel.unprivileged_bpf_disabled = ${readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'utf8').trim()}`)
})

afterAll(() => tree?.remove())

/** A copy of the loader for the service user, with `caps` as its file capabilities (none when empty). */
function loaderCopy (name: string, caps: string): string {
  const path = `${tree.prefix}/bin/${name}`
  copyFileSync(probe, path)
  execFileSync('chown', [`root:${tree.user}`, path])
  execFileSync('chmod', ['0750', path])
  if (caps !== '') execFileSync('setcap', [caps, path])
  return path
}

describe('the loader\'s minimal capability set', () => {
  it.each([
    { caps: 'cap_bpf,cap_perfmon=ep', direction: 'receive', hello: true },
    // Every program: the send side's, and the system calls' entry and exit (raw tracepoints, which need no tracefs).
    { caps: 'cap_bpf,cap_perfmon=ep', direction: 'both', hello: true },
    { caps: 'cap_bpf=ep', direction: 'receive', hello: false },
    { caps: 'cap_perfmon=ep', direction: 'receive', hello: false },
    { caps: '', direction: 'receive', hello: false },
    // The loader does not raise permitted capabilities itself: they must be effective at exec.
    { caps: 'cap_bpf,cap_perfmon=p', direction: 'receive', hello: false }
  ])('run as the service user with file capabilities $caps, direction $direction: hello is $hello', ({ caps, direction, hello }) => {
    const loader = loaderCopy(`probe-${caps.replace(/\W/g, '_') || 'none'}`, caps)
    const run = spawnSync(dropPrivileges[0]!, [...dropPrivileges.slice(1), loader, '--format', 'json', '--port', '9', '--direction', direction, '--duration', '1'],
      { encoding: 'utf8', timeout: 15_000 })
    const first = JSON.parse(run.stdout.split('\n')[0] || '{}') as { type?: string, message?: string }
    expect(first.type, run.stderr).toBe(hello ? 'hello' : 'error')
    expect(run.status).toBe(hello ? 0 : 1)
    if (!hello) expect(first.message).toMatch(/Operation not permitted/)
  })
})

interface RunningService {
  pid: number
  base: string
  child: ChildProcessWithoutNullStreams
  stop (): Promise<void>
}

/** Starts the installed service exactly as the unit's ExecStart does, on an ephemeral loopback port. */
async function startService (probePath: string): Promise<RunningService> {
  const child = spawn(service.file, service.args, {
    env: { PATH: process.env.PATH, UDPLAT_PROBE: probePath, UDPLAT_HOST: '127.0.0.1', UDPLAT_PORT: '0', UDPLAT_LOG_LEVEL: 'info' }
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exited = once(child, 'exit')
  const listening = new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout })
    lines.on('line', (line) => {
      const url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1]
      if (url !== undefined) resolve(url)
    })
    void exited.then(([code]) => reject(new Error(`the service exited ${code}: ${stderr}`)))
  })
  const base = await listening
  return {
    pid: child.pid!,
    base,
    child,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
    }
  }
}

async function api (base: string, method: string, path: string, body?: unknown): Promise<{ status: number, json: any }> {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await res.text()
  return { status: res.status, json: text ? JSON.parse(text) : undefined }
}

/** The sessions' loaders a service started: its child processes but the hub keeper (other tests may run loaders of their own). */
function loadersOf (servicePid: number): number[] {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).flatMap((name) => {
    try {
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const keeper = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').includes('--keep-hub')
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === servicePid && !keeper ? [Number(name)] : []
    } catch {
      return []
    }
  })
}

describe('the service as an unprivileged user', () => {
  it('holds no capability, yet completes a session through the capability-bearing loader', async () => {
    const running = await startService(probe)
    const receiver = createSocket('udp4')
    try {
      // After setpriv's exec, node runs as the service user with every capability set empty.
      expect(credentials(running.pid)).toEqual({
        uids: [user.uid, user.uid, user.uid, user.uid],
        noNewPrivs: false,
        inheritable: 0n,
        permitted: 0n,
        effective: 0n,
        bounding: BPF_CAPS_MASK,
        ambient: 0n
      })
      const port = new URL(running.base).port
      const health = spawnSync(`${tree.prefix}/bin/udplat-healthcheck`, { env: { ...process.env, UDPLAT_PORT: port }, encoding: 'utf8', timeout: 10_000 })
      expect(health.status, health.stderr).toBe(0)

      receiver.bind(0, '127.0.0.1')
      await once(receiver, 'listening')
      const receiverPort = receiver.address().port
      const count = 5
      const received: Buffer[] = []
      receiver.on('message', (message) => received.push(message))

      const created = await api(running.base, 'POST', '/v1/sessions', { filter: { ports: [receiverPort] }, thresholdUs: 0 })
      expect(created.status, JSON.stringify(created.json)).toBe(201)
      expect(created.json.state).toBe('running')
      const loaders = loadersOf(running.pid)
      expect(loaders).toHaveLength(1)
      const loader = credentials(loaders[0]!)
      expect(loader.uids).toEqual([user.uid, user.uid, user.uid, user.uid])
      expect({ permitted: loader.permitted, effective: loader.effective }).toEqual({ permitted: BPF_CAPS_MASK, effective: BPF_CAPS_MASK })
      const programs = sessionProgramIds(loaders[0]!)
      expect(programs.length).toBeGreaterThan(0)

      const sender = createSocket('udp4')
      for (let i = 0; i < count; i++) sender.send(Buffer.alloc(64, i), receiverPort, '127.0.0.1')
      const deadline = Date.now() + 5000
      let events: Array<{ type: string, dst: { port: number }, len: number }> = []
      while (Date.now() < deadline && (received.length < count || events.length < count)) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        events = (await api(running.base, 'GET', `/v1/sessions/${created.json.id}/events?after=0&limit=100`)).json.events
      }
      sender.close()
      expect(received).toHaveLength(count)
      expect(events).toHaveLength(count)
      for (const event of events) expect(event).toMatchObject({ type: 'latency', dst: { port: receiverPort }, len: 64 })

      expect((await api(running.base, 'DELETE', `/v1/sessions/${created.json.id}`)).status).toBe(204)
      expect(loadersOf(running.pid)).toEqual([])
      expect(await programsDetached(programs)).toEqual([])
    } finally {
      receiver.close()
      await running.stop()
    }
  })

  it('cannot load BPF itself: a loader without file capabilities, run with the service\'s credentials, is refused', async () => {
    const running = await startService(loaderCopy('probe-uncapped', ''))
    try {
      const res = await api(running.base, 'POST', '/v1/sessions', { filter: { ports: [9] } })
      expect(res.status).toBeGreaterThanOrEqual(400)
      expect(res.json.detail).toMatch(/Operation not permitted/)
      expect(loadersOf(running.pid)).toEqual([])
      expect((await api(running.base, 'GET', '/v1/sessions')).json.sessions.every((s: { state: string }) => s.state !== 'running')).toBe(true)
    } finally {
      await running.stop()
    }
  })
})

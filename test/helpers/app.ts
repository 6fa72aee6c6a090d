import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, afterEach, expect, vi } from 'vitest'
import { buildApp } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { MARK_NAMES, type MarkName } from '../../src/marks.js'

export const FAKE_PROBE = fileURLToPath(new URL('./fake-probe.mjs', import.meta.url))
/** The fake loader's environment: this process's, in which fakeProbe() says how it behaves. */
export const FAKE_PROBE_ENV = process.env

/** A configuration for tests: the fake loader, short timeouts, no hub kept warm (see hub.test.ts), defaults otherwise. */
export function testConfig (overrides: Partial<Config> = {}): Config {
  return {
    ...loadConfig([], {}),
    probePath: FAKE_PROBE,
    loaderEnv: FAKE_PROBE_ENV,
    loaderStartTimeoutMs: 2000,
    loaderStopGraceMs: 500,
    warmHub: false,
    ...overrides
  }
}

const apps: Array<ReturnType<typeof buildApp>> = []

/** An app closed (every loader stopped) after each test. */
export async function testApp (overrides: Partial<Config> = {}) {
  const app = buildApp(testConfig(overrides))
  apps.push(app)
  await app.ready()
  return app
}

type App = Awaited<ReturnType<typeof testApp>>

let shared: Promise<App> | undefined

/** One app for the whole file, for requests that change nothing (rejected ones): building an app takes a while. */
export async function sharedApp (): Promise<App> {
  shared ??= (async () => {
    const app = buildApp(testConfig())
    await app.ready()
    return app
  })()
  return await shared
}

afterAll(async () => {
  await (await shared)?.close()
  shared = undefined
})

/** An app listening on an ephemeral loopback port, for what app.inject() cannot show: streaming, disconnects. */
export async function listeningApp (overrides: Partial<Config> = {}): Promise<{ app: App, base: string }> {
  const app = buildApp(testConfig(overrides))
  apps.push(app)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('not listening on a port')
  return { app, base: `http://127.0.0.1:${address.port}` }
}

/** True while a process with this pid exists. */
export function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Asserts an RFC 9457 problem+json response and returns its body. */
export function expectProblem (res: LightMyRequestResponse, status: number, code: string): { detail: string, instance: string } {
  expect(res.statusCode).toBe(status)
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  const problem = res.json()
  expect(problem).toMatchObject({ status, code, type: expect.stringMatching(/^urn:udplat:problem:/), title: expect.any(String) })
  return problem
}

/** Polls GET /v1/sessions/{id} until `check` passes; returns the session that passed it. */
export async function waitForSession (app: App, id: string, check: (session: any) => void, timeout = 2000) {
  return vi.waitFor(async () => {
    const session = (await app.inject({ url: `/v1/sessions/${id}` })).json()
    check(session)
    return session
  }, { timeout })
}

const CGROUP2_ROOT = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((line) => line.split(' ')).find((fields) => fields[2] === 'cgroup2')?.[1] ?? '/sys/fs/cgroup'
const ownCgroupPath = /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? '/'

/** The cgroup v2 this process runs in, which exists: its path as /proc/self/cgroup says, under the mount, and its id. */
export const OWN_CGROUP = {
  path: ownCgroupPath,
  mounted: ownCgroupPath === '/' ? CGROUP2_ROOT : `${CGROUP2_ROOT}${ownCgroupPath}`,
  id: String(statSync(join(CGROUP2_ROOT, ownCgroupPath), { bigint: true }).ino)
}

type ProbeMode = 'run' | 'error' | 'bad-arguments' | 'silent' | 'no-hello' | 'die-after-hello' | 'ignore-term' | 'garbage' | 'close-stdout' | 'cut-record' | 'cut-record-at-term'

let infoFiles = 0

/** A hello's marks bitmask (bit i: MARK_NAMES[i]). */
export const markBits = (names: readonly MarkName[]): number => names.reduce((bits, name) => bits | (1 << MARK_NAMES.indexOf(name)), 0)

/** The hello's marks of a receiving session whose plan sees arrive, enqueue, read and return (no rx). */
export const RECEIVE_MARKS = markBits(['arrive', 'enqueue', 'read', 'return'])
/** The same for the tracepoint plan: no read of its own. */
export const TRACEPOINT_MARKS = markBits(['arrive', 'enqueue', 'return'])

export interface FakeProbeOptions {
  events?: number
  drops?: number
  /** The hello's marks bitmask; RECEIVE_MARKS by default. */
  marks?: number
  /** What --list-plans prints. */
  plans?: 'tracepoint' | 'no-btf' | 'none' | 'garbage'
  /** The comm of the task its events name; its own default when empty. */
  comm?: string
}

/** The environment that makes fake loaders behave so. */
export function fakeProbeEnv (mode: ProbeMode, { events = 0, drops = 0, marks = RECEIVE_MARKS, plans = 'tracepoint', comm = '' }: FakeProbeOptions = {}) {
  return { FAKE_PROBE_MODE: mode, FAKE_PROBE_EVENTS: String(events), FAKE_PROBE_DROPS: String(drops), FAKE_PROBE_MARKS: String(marks), FAKE_PROBE_PLANS: plans, FAKE_PROBE_COMM: comm }
}

/**
 * How the next fake loaders behave (they run in this process's environment: FAKE_PROBE_ENV).
 * Returns a reader of what the last one started reported: its pid, command line and environment.
 */
export function fakeProbe (mode: ProbeMode, options: FakeProbeOptions = {}) {
  const infoFile = join(tmpdir(), `udplat-fake-probe-${process.pid}-${++infoFiles}.json`)
  rmSync(infoFile, { force: true })
  Object.assign(process.env, { ...fakeProbeEnv(mode, options), FAKE_PROBE_INFO: infoFile })
  return (): { pid: number, argv: string[], env: Record<string, string> } => JSON.parse(readFileSync(infoFile, 'utf8'))
}

const commands: string[] = []

/**
 * A command that runs the fake loader behaving so, for a service run as a process of its own: a service gives
 * its loaders nothing of its environment (config.loaderEnv), so the behaviour is written into the command.
 */
export function fakeProbeCommand (mode: ProbeMode, options: FakeProbeOptions = {}): string {
  const file = join(tmpdir(), `udplat-fake-probe-${process.pid}-${commands.length}.sh`)
  const env = Object.entries(fakeProbeEnv(mode, options)).map(([name, value]) => `${name}=${value}`)
  writeFileSync(file, `#!/bin/sh\nexec env ${env.join(' ')} '${process.execPath}' '${FAKE_PROBE}' "$@"\n`, { mode: 0o755 })
  commands.push(file)
  return file
}

afterAll(() => {
  for (const file of commands.splice(0)) rmSync(file, { force: true })
})

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()))
  fakeProbe('run')
})

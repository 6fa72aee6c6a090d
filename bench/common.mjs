/**
 * What every benchmark shares: options, statistics, markdown tables, the
 * machine description, child processes that never outlive the run, the
 * service, the UDP flood, BPF program statistics and memory readings.
 * Node built-ins only; the service and loader are the built ones.
 */
import { execFileSync, spawn } from 'node:child_process'
import dgram from 'node:dgram'
import { readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os, { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

export { sleep }

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const PROBE = process.env.UDPLAT_PROBE ?? `${ROOT}bpf/build/udplat-probe`
export const UDPWORK = `${ROOT}test/tools/build/udpwork`
export const PEER_SCRIPT = `${ROOT}bench/peer.bt`
/** The built service; UDPLAT_BENCH_DIST points elsewhere to measure another build without touching dist/. */
export const DIST = process.env.UDPLAT_BENCH_DIST ? `${process.env.UDPLAT_BENCH_DIST.replace(/\/$/, '')}/` : `${ROOT}dist/`
/** A threshold no loopback datagram reaches: sessions match and measure but never emit. */
export const NEVER_US = 10_000_000

// ---- options and output ----

/** Parses --name value flags with defaults; numbers stay numbers. Prints usage on --help. */
export function options (usage, defaults) {
  const spec = { help: { type: 'boolean' } }
  for (const [name, value] of Object.entries(defaults)) spec[name] = { type: typeof value === 'boolean' ? 'boolean' : 'string' }
  let values
  try {
    values = parseArgs({ options: spec, strict: true, allowPositionals: false }).values
  } catch (err) {
    console.error(`${err.message}\n${usage}`)
    process.exit(2)
  }
  if (values.help) {
    console.log(`${usage}\ndefaults: ${JSON.stringify(defaults)}`)
    process.exit(0)
  }
  const out = {}
  for (const [name, value] of Object.entries(defaults)) {
    const raw = values[name]
    if (raw === undefined) out[name] = value
    else if (typeof value === 'number') {
      out[name] = Number(raw)
      if (!Number.isFinite(out[name])) fail(`--${name} needs a number, got "${raw}"`)
    } else out[name] = raw
  }
  return out
}

export function fail (message) {
  console.error(`bench: ${message}`)
  process.exit(1)
}

/** Progress goes to stderr; stdout carries only the markdown report. */
export function progress (message) {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`)
}

export function median (values) {
  const xs = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (xs.length === 0) return NaN
  const mid = xs.length >> 1
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2
}

/** Nearest-rank percentile, p in [0, 100]. */
export function percentile (values, p) {
  const xs = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (xs.length === 0) return NaN
  return xs[Math.min(xs.length - 1, Math.max(0, Math.ceil((p / 100) * xs.length) - 1))]
}

/** min–max of the values, to show the spread beside a median. */
export function spread (values, digits = 2) {
  const xs = values.filter((x) => Number.isFinite(x))
  if (xs.length === 0) return '–'
  return `${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}`
}

export function fmt (value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–'
  if (typeof value !== 'number') return String(value)
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** "met" / "MISSED" against a target; higher is better unless lowerIsBetter. */
export function verdict (value, target, lowerIsBetter = false) {
  if (!Number.isFinite(value)) return 'no data'
  return (lowerIsBetter ? value <= target : value >= target) ? 'met' : 'MISSED'
}

/** A markdown table with aligned columns. */
export function table (headers, rows) {
  const cells = [headers, ...rows].map((row) => row.map((cell) => String(cell)))
  const widths = headers.map((_, i) => Math.max(3, ...cells.map((row) => row[i].length)))
  const line = (row) => `| ${row.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`
  return [line(cells[0]), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...cells.slice(1).map(line)].join('\n')
}

const RUN_START = { at: new Date(), loadAverage: os.loadavg() }

/** The heading every report starts with: what ran, where, when. */
export function reportHeader (title) {
  const script = relative(ROOT, process.argv[1] ?? '')
  // --out only says where this copy of the report goes.
  const argv = process.argv.slice(2)
  const outAt = argv.indexOf('--out')
  const args = (outAt === -1 ? argv : [...argv.slice(0, outAt), ...argv.slice(outAt + 2)]).join(' ')
  return [
    `## ${title}`,
    '',
    `Command: \`node ${script}${args ? ` ${args}` : ''}\``,
    '',
    `Machine: ${machine()}`,
    '',
    `Run: ${RUN_START.at.toISOString()}, git ${gitRevision()}, load average at start ${RUN_START.loadAverage.map((x) => x.toFixed(2)).join(' ')}; ` +
      `service ${relative(ROOT, DIST) || '.'}/server.js, loader ${relative(ROOT, PROBE)}`,
    ''
  ].join('\n')
}

export function machine () {
  const cpus = os.cpus()
  return `${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
    `Linux ${os.release()}, Node ${process.versions.node}`
}

function gitRevision () {
  try {
    const rev = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim()
    return dirty ? `${rev} (with uncommitted changes)` : rev
  } catch {
    return 'unknown'
  }
}

/** Prints the report, and with --out FILE also writes it there. */
export function emit (report, outFile) {
  process.stdout.write(`${report}\n`)
  if (outFile) writeFileSync(outFile, `${report}\n`)
}

// ---- child processes ----

const children = new Set()
let cleanups = []

/** Runs fn at exit, normal or by signal: restore sysctls, stop the service. */
export function atExit (fn) { cleanups.push(fn) }

function cleanup () {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try { process.kill(child.pid, 'SIGKILL') } catch {}
    }
  }
  const pending = cleanups
  cleanups = []
  for (const fn of pending.reverse()) {
    try { fn() } catch (err) { console.error(`bench: cleanup failed: ${err.message}`) }
  }
}
process.on('exit', cleanup)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    console.error(`bench: ${signal}, cleaning up`)
    cleanup()
    process.exit(130)
  })
}

/**
 * A child process whose stdout is read line by line (unless rawStdout) and
 * whose stderr is kept for error messages. Killed at exit if still running.
 */
export function start (command, args, { env, rawStdout = false, cpu, stdin = 'ignore' } = {}) {
  const [cmd, argv] = cpu === undefined ? [command, args] : ['taskset', ['-c', String(cpu), command, ...args]]
  const startedMs = performance.now()
  const child = spawn(cmd, argv, { stdio: [stdin, 'pipe', 'pipe'], env: env ? { ...process.env, ...env } : process.env })
  children.add(child)
  const lines = []
  const waiters = []
  let stderr = ''
  let partial = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (text) => { stderr = (stderr + text).slice(-4000) })
  if (!rawStdout) {
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (text) => {
      const parts = (partial + text).split('\n')
      partial = parts.pop()
      for (const line of parts) {
        lines.push({ line, ms: performance.now() })
        for (const waiter of [...waiters]) waiter()
      }
    })
  }
  const exited = new Promise((resolve) => {
    child.once('error', (err) => { stderr += `\n${err.message}`; resolve({ code: -1, signal: null }) })
    child.once('close', (code, signal) => {
      children.delete(child)
      for (const waiter of [...waiters]) waiter()
      resolve({ code, signal })
    })
  })
  const proc = {
    child,
    pid: child.pid,
    startedMs,
    lines,
    exited,
    get stderr () { return stderr },
    get running () { return child.exitCode === null && child.signalCode === null },
    /** Resolves with the first line (and the time it came) matching test; rejects on exit or timeout. */
    waitLine (test, timeoutMs, what = 'a line') {
      return new Promise((resolve, reject) => {
        let index = 0
        const check = () => {
          for (; index < lines.length; index++) {
            if (test(lines[index].line)) return done(null, lines[index])
          }
          if (!proc.running) done(new Error(`${command} exited before ${what}: ${stderr.trim().slice(-300)}`))
        }
        const timer = setTimeout(() => done(new Error(`${command} did not print ${what} within ${timeoutMs} ms: ${stderr.trim().slice(-300)}`)), timeoutMs)
        const done = (err, value) => {
          clearTimeout(timer)
          waiters.splice(waiters.indexOf(check), 1)
          err ? reject(err) : resolve(value)
        }
        waiters.push(check)
        check()
      })
    },
    /** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. */
    async stop (graceMs = 5000) {
      if (proc.running) child.kill('SIGTERM')
      const timer = setTimeout(() => { if (proc.running) child.kill('SIGKILL') }, graceMs)
      const result = await exited
      clearTimeout(timer)
      return result
    }
  }
  return proc
}

/** Runs to completion with a deadline; resolves with stdout lines. */
export async function run (command, args, { timeoutMs = 60_000, cpu } = {}) {
  const proc = start(command, args, { cpu })
  const timer = setTimeout(() => proc.stop(1000), timeoutMs)
  const { code, signal } = await proc.exited
  clearTimeout(timer)
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${proc.stderr.trim().slice(-300)}`)
  return proc.lines.map((l) => l.line)
}

export async function freeTcpPort () {
  const server = net.createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

export async function freeUdpPort () {
  const socket = dgram.createSocket('udp4')
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve))
  const { port } = socket.address()
  await new Promise((resolve) => socket.close(resolve))
  return port
}

// ---- the service ----

let standIns = 0

/**
 * A command that runs a stand-in loader (a Node script) with its settings: the service gives its loaders
 * nothing of its environment but PATH, so they are written into the command. Removed at exit.
 */
export function standInProbe (script, env) {
  const file = join(tmpdir(), `udplat-bench-probe-${process.pid}-${standIns++}.sh`)
  const settings = Object.entries(env).map(([name, value]) => `${name}='${value}'`).join(' ')
  writeFileSync(file, `#!/bin/sh\nexec env ${settings} '${process.execPath}' '${script}' "$@"\n`, { mode: 0o755 })
  atExit(() => rmSync(file, { force: true }))
  return file
}

/** Node's flags as the service is started (`npm start`, systemd/udplat.service, the Dockerfile): the benchmarks measure that. */
export const SERVICE_NODE_ARGS = (process.env.UDPLAT_BENCH_NODE_ARGS ?? '--max-semi-space-size=1 --v8-pool-size=1').split(' ').filter(Boolean)

/**
 * The built service (DIST/server.js) on a free loopback port, quiet, with room for the benchmarks' sessions,
 * once ready (its hub warm); `ready: false` for a stand-in loader that cannot list plans: once it serves HTTP.
 */
export async function startService ({ env = {}, nodeArgs = SERVICE_NODE_ARGS, ready = true } = {}) {
  const port = await freeTcpPort()
  const proc = start(process.execPath, [...nodeArgs, `${DIST}server.js`], {
    env: { UDPLAT_HOST: '127.0.0.1', UDPLAT_PORT: String(port), UDPLAT_LOG_LEVEL: 'warn', UDPLAT_MAX_SESSIONS: '64', UDPLAT_PROBE: PROBE, ...env }
  })
  const base = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 15_000
  const probe = ready ? '/readyz' : '/healthz'
  for (;;) {
    if (!proc.running) throw new Error(`the service exited at start: ${proc.stderr.trim().slice(-500)}`)
    try {
      if ((await fetch(`${base}${probe}`)).ok) break
    } catch {}
    if (Date.now() > deadline) throw new Error(`the service did not answer ${probe} within 15 s`)
    await sleep(50)
  }
  const service = {
    base,
    port,
    pid: proc.pid,
    proc,
    async request (method, path, body) {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body)
      })
      const text = await response.text()
      return { status: response.status, body: text ? JSON.parse(text) : undefined }
    },
    /** POST /v1/sessions; resolves with the session and how long the 201 took. */
    async createSession (spec) {
      const t0 = performance.now()
      const { status, body } = await service.request('POST', '/v1/sessions', spec)
      const ms = performance.now() - t0
      if (status !== 201) throw new Error(`POST /v1/sessions answered ${status}: ${JSON.stringify(body)}`)
      return { session: body, ms }
    },
    async getSession (id) {
      const { status, body } = await service.request('GET', `/v1/sessions/${id}`)
      if (status !== 200) throw new Error(`GET /v1/sessions/${id} answered ${status}`)
      return body
    },
    async deleteSession (id) {
      const { status } = await service.request('DELETE', `/v1/sessions/${id}`)
      if (status !== 204 && status !== 200 && status !== 404) throw new Error(`DELETE /v1/sessions/${id} answered ${status}`)
    },
    /** Creates n sessions, a few at a time; all or none. */
    async createSessions (n, spec, concurrency = 4) {
      const created = []
      try {
        for (let i = 0; i < n; i += concurrency) {
          const batch = await Promise.all(Array.from({ length: Math.min(concurrency, n - i) }, () => service.createSession(spec)))
          created.push(...batch.map((b) => b.session))
        }
      } catch (err) {
        await service.deleteSessions(created)
        throw err
      }
      return created
    },
    async deleteSessions (sessions) {
      for (const session of sessions) await service.deleteSession(session.id)
    },
    /** Loader pids of the service's sessions: its udplat-probe children but the hub keeper. */
    loaderPids () {
      return childPids(proc.pid).filter((pid) => {
        try {
          return readlinkSync(`/proc/${pid}/exe`).endsWith('udplat-probe') && !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--keep-hub')
        } catch { return false }
      })
    },
    async stop () { await proc.stop(15_000) }
  }
  return service
}

function childPids (pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

/** Polls until test(value) holds, at most timeoutMs; returns the last value. */
export async function pollUntil (read, test, timeoutMs, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs
  let value = await read()
  while (!test(value) && Date.now() < deadline) {
    await sleep(intervalMs)
    value = await read()
  }
  return value
}

// ---- the flood ----

const HAVE_PERF = (() => { try { execFileSync('perf', ['--version'], { stdio: 'ignore' }); return true } catch { return false } })()
const CLOCK_TICKS_PER_S = 100

/** CPU time of the ksoftirqd threads, in ns: softirq work the kernel defers there is charged to neither flood nor sink. */
function ksoftirqdCpuNs () {
  let ticks = 0
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      if (!stat.includes('(ksoftirqd/')) continue
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      ticks += Number(fields[11]) + Number(fields[12]) // utime, stime
    } catch {}
  }
  return ticks * (1e9 / CLOCK_TICKS_PER_S)
}

/** Sum over CPUs of one /proc/interrupts row, e.g. IWI (IRQ work: ring buffer wakeups) or RES. */
export function interrupts (row) {
  const line = readFileSync('/proc/interrupts', 'utf8').split('\n').find((l) => l.trimStart().startsWith(`${row}:`))
  if (!line) return NaN
  return line.trim().split(/\s+/).slice(1).map(Number).filter(Number.isFinite).reduce((a, b) => a + b, 0)
}

/** A udpwork command under `perf stat -e task-clock` when perf exists, so that its CPU time is known to the ns. */
async function runCounted (args, { cpu, timeoutMs }) {
  if (!HAVE_PERF) return { lines: await run(UDPWORK, args, { cpu, timeoutMs }), cpuNs: NaN }
  const csv = join(tmpdir(), `udplat-bench-${process.pid}-${args[0]}.csv`)
  const lines = await run('perf', ['stat', '-x,', '-e', 'task-clock', '-o', csv, '--', UDPWORK, ...args], { cpu, timeoutMs })
  const row = readFileSync(csv, 'utf8').split('\n').find((line) => line.includes('task-clock'))
  rmSync(csv, { force: true })
  return { lines, cpuNs: row ? Number(row.split(',')[0]) * 1e6 : NaN }
}

/**
 * One loopback flood: a sink on port (reading everything), a flooder sending
 * for `seconds`. Resolves with datagrams received per second of flood, which
 * is what a tracer slows down, with sent/s beside it, and the CPU time the
 * flood, the sink and ksoftirqd spent.
 */
export async function flood ({ port, seconds, len = 64, cpus, rcvbufBytes = 0 }) {
  // The sink counts for whole seconds from when it is ready; one more than the flood drains its queue.
  const sinkArgs = ['sink', '--bind', `127.0.0.1:${port}`, '--seconds', String(seconds + 1)]
  if (rcvbufBytes > 0) sinkArgs.push('--rcvbuf', String(rcvbufBytes))
  const softirqBefore = ksoftirqdCpuNs()
  const irqWorkBefore = interrupts('IWI')
  const sinkDone = runCounted(sinkArgs, { cpu: cpus?.[1], timeoutMs: (seconds + 10) * 1000 })
  // The sink prints "ready" on stdout, which run() only returns at the end: wait for its socket instead.
  await waitUdpBound(port, 5000)
  const sent = await runCounted(['flood', '--to', `127.0.0.1:${port}`, '--seconds', String(seconds), '--len', String(len)],
    { cpu: cpus?.[0], timeoutMs: (seconds + 10) * 1000 })
  const sink = await sinkDone
  const floodResult = JSON.parse(sent.lines.at(-1))
  const sinkResult = JSON.parse(sink.lines.at(-1))
  const softirqCpuNs = ksoftirqdCpuNs() - softirqBefore
  const irqWork = interrupts('IWI') - irqWorkBefore
  return {
    sent: floodResult.sent,
    received: sinkResult.received,
    seconds: floodResult.seconds,
    sentPerSecond: floodResult.sent / floodResult.seconds,
    receivedPerSecond: sinkResult.received / floodResult.seconds,
    floodCpuNs: sent.cpuNs,
    sinkCpuNs: sink.cpuNs,
    softirqCpuNs,
    /** IRQ work interrupts during the flood: how often a BPF ring buffer (or anything else) woke its reader. */
    irqWork,
    /** Everything the datagrams cost, over the datagrams delivered: sender (with the receive stack it runs), reader, ksoftirqd. */
    cpuNsPerDatagram: (sent.cpuNs + sink.cpuNs + softirqCpuNs) / sinkResult.received
  }
}

/** Waits until a UDP socket is bound to 127.0.0.1:port (/proc/net/udp), at most timeoutMs. */
async function waitUdpBound (port, timeoutMs) {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`
  const deadline = Date.now() + timeoutMs
  while (!readFileSync('/proc/net/udp', 'utf8').includes(local)) {
    if (Date.now() > deadline) throw new Error(`nothing bound 127.0.0.1:${port} within ${timeoutMs} ms`)
    await sleep(5)
  }
}

/** "0,1" → [0, 1]; "none" → undefined (no pinning). */
export function parseCpus (text) {
  if (text === 'none') return undefined
  const cpus = text.split(',').map(Number)
  if (cpus.length !== 2 || cpus.some((c) => !Number.isInteger(c) || c < 0 || c >= os.cpus().length)) {
    fail(`--cpus needs FLOOD_CPU,SINK_CPU below ${os.cpus().length}, or none; got "${text}"`)
  }
  return cpus
}

// ---- BPF program statistics ----

const BPF_STATS = '/proc/sys/kernel/bpf_stats_enabled'

/** Sets kernel.bpf_stats_enabled; the previous value comes back at exit. */
export function enableBpfStats (on) {
  const previous = readFileSync(BPF_STATS, 'utf8').trim()
  writeFileSync(BPF_STATS, on ? '1' : '0')
  atExit(() => writeFileSync(BPF_STATS, previous))
}

/** Pids of running hubs (`udplat-probe --hub PLAN`): they hold the programs of the service's --shared sessions. */
export function hubPids () {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number).filter((pid) => {
    try {
      return readlinkSync(`/proc/${pid}/exe`).endsWith('udplat-probe') && readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[1] === '--hub'
    } catch { return false }
  })
}

/** Ids of the BPF programs a process holds open (/proc/PID/fdinfo). */
export function programIdsOf (pid) {
  const ids = []
  let fds = []
  try { fds = readdirSync(`/proc/${pid}/fd`) } catch { return ids }
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:bpf-prog') continue
      const id = /prog_id:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1]
      if (id) ids.push(Number(id))
    } catch {}
  }
  return ids
}

/** Every loaded program from `bpftool prog show -j`: id → { name, type, runTimeNs, runCount }. */
export function bpfPrograms () {
  const list = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8', maxBuffer: 64 << 20 }))
  return new Map(list.map((p) => [p.id, { name: p.name, type: p.type, runTimeNs: p.run_time_ns ?? 0, runCount: p.run_cnt ?? 0 }]))
}

/** Run time and hits per program name over the given ids, between two bpfPrograms() snapshots. */
export function programDeltas (before, after, ids) {
  const byName = new Map()
  for (const id of ids) {
    const a = after.get(id)
    const b = before.get(id)
    if (!a || !b) continue
    const entry = byName.get(a.name) ?? { name: a.name, runTimeNs: 0, runCount: 0, programs: 0 }
    entry.runTimeNs += a.runTimeNs - b.runTimeNs
    entry.runCount += a.runCount - b.runCount
    entry.programs++
    byName.set(a.name, entry)
  }
  return [...byName.values()]
}

/** Tracing programs loaded by someone else (other tests on the machine): they tax every datagram too. */
export function foreignTracingPrograms (ownIds) {
  const own = new Set(ownIds)
  let count = 0
  for (const [id, p] of bpfPrograms()) {
    if (!own.has(id) && ['tracing', 'raw_tracepoint', 'tracepoint', 'kprobe'].includes(p.type)) count++
  }
  return count
}

// ---- memory ----

/** VmRSS and VmHWM of a process, in MiB. */
export function memoryOf (pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
    return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 }
  } catch {
    return { rssMiB: NaN, hwmMiB: NaN }
  }
}

/** Checks the tools a benchmark needs are built and we may load BPF. */
export function preflight ({ needService = true, needFlood = true, needBpftrace = false } = {}) {
  const missing = []
  const exists = (path) => { try { readFileSync(path); return true } catch { return false } }
  if (!exists(PROBE)) missing.push(`${PROBE} (run scripts/setup)`)
  if (needFlood && !exists(UDPWORK)) missing.push(`${UDPWORK} (make -C test/tools)`)
  if (needService && !exists(`${DIST}server.js`)) missing.push(`${DIST}server.js (npm run build)`)
  if (needBpftrace) {
    try { execFileSync('bpftrace', ['--version']) } catch { missing.push('bpftrace (apt-get install bpftrace)') }
  }
  if (missing.length > 0) fail(`missing: ${missing.join(', ')}`)
  if (process.getuid?.() !== 0) fail('run as root: the loader and bpftrace load BPF programs')
  // Run time accounting reads the clock twice per program run (a paravirtual clock read each in a VM):
  // left on by anything, it would be measured as the programs' cost.
  enableBpfStats(false)
}

/** bpftrace running the peer script on port: resolves once its probes are attached, with the time that took. */
export async function startPeer (port, thresholdUs, cpu) {
  const proc = start('bpftrace', [PEER_SCRIPT, String(port), String(thresholdUs)], {
    env: { BPFTRACE_MAP_KEYS_MAX: '16384' },
    cpu
  })
  const ready = await proc.waitLine((line) => line === 'ready', 60_000, 'ready')
  return { proc, attachMs: ready.ms - proc.startedMs }
}

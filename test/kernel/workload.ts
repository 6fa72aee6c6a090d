import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** Kernel tests drive real sockets through test/tools/udpwork, which records SO_TIMESTAMPNS as ground truth. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const UDPWORK = `${ROOT}test/tools/build/udpwork`
export const PROBE = `${ROOT}bpf/build/udplat-probe`
export const SCHEDWORK = `${ROOT}test/tools/build/schedwork`

/** One datagram as the receiver saw it: waitNs runs from the kernel's receive timestamp to recvmsg's return. */
export interface Received {
  i: number
  len: number
  src: string
  /** The kernel's receive timestamp (SO_TIMESTAMPNS), CLOCK_REALTIME. */
  kernelNs: number
  returnNs: number
  waitNs: number
  /** CLOCK_MONOTONIC right before the call that read it (the batch's, under recvmmsg). */
  callMonoNs: number
  /** CLOCK_MONOTONIC right after that call returned (read right before returnNs): comparable with udplat's marks and a local sender's clock. */
  returnMonoNs: number
}

export interface Receiver {
  port: number
  pid: number
  /** Every datagram read, once the receiver exits. */
  done: Promise<Received[]>
  child: ChildProcessWithoutNullStreams
}

export interface ReceiverOptions {
  bind: string
  count: number
  delayMs?: number
  batch?: number
  recvmmsg?: boolean
  /** Single reads with recvfrom or read(2) instead of recvmsg (no kernel timestamp then). */
  call?: 'recvfrom' | 'read'
  rcvbufBytes?: number
  noRead?: boolean
  timeoutMs?: number
  /** MSG_PEEK reads before each read. */
  peek?: number
  /** Connect the socket to this ADDR:PORT (the sender must bind it). */
  connect?: string
  /** Reader threads per socket; with threads or reuseport, each datagram's line names its socket and tid. */
  threads?: number
  /** Sockets bound to the port with SO_REUSEPORT, each with its own reader threads. */
  reuseport?: number
  /** A command prefix, such as `ip netns exec NAME`. */
  prefix?: string[]
  /** Another copy of udpwork, for a different command name. */
  binary?: string
}

/** JSON lines of a child's stdout, the first one separately (udpwork's "ready" line). */
function lines (child: ChildProcessWithoutNullStreams): { first: Promise<string>, rest: Promise<string[]> } {
  const rl = createInterface({ input: child.stdout })
  const all: string[] = []
  let resolveFirst: (line: string) => void
  let rejectFirst: (err: Error) => void
  const first = new Promise<string>((resolve, reject) => { resolveFirst = resolve; rejectFirst = reject })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  rl.on('line', (line) => { if (all.length === 0) resolveFirst(line); all.push(line) })
  const rest = new Promise<string[]>((resolve, reject) => {
    child.on('close', (code) => {
      if (all.length === 0) rejectFirst(new Error(`exited ${code} without output: ${stderr}`))
      if (code !== 0) reject(new Error(`exited ${code}: ${stderr}`))
      else resolve(all.slice(1))
    })
  })
  return { first, rest }
}

/** Runs a tool (test/tools) until it exits; its ready line (the first), and the rest once it has exited. */
export function runTool (argv: string[]): { first: Promise<unknown>, rest: Promise<unknown[]> } {
  const out = lines(spawn(argv[0]!, argv.slice(1)))
  return {
    first: out.first.then((line) => JSON.parse(line) as unknown),
    rest: out.rest.then((rest) => rest.map((line) => JSON.parse(line) as unknown))
  }
}

export async function startReceiver (opts: ReceiverOptions): Promise<Receiver> {
  const args = ['recv', '--bind', opts.bind, '--count', String(opts.count), '--timeout-ms', String(opts.timeoutMs ?? 10_000)]
  if (opts.delayMs !== undefined) args.push('--delay-ms', String(opts.delayMs))
  if (opts.batch !== undefined) args.push('--batch', String(opts.batch))
  if (opts.rcvbufBytes !== undefined) args.push('--rcvbuf', String(opts.rcvbufBytes))
  if (opts.noRead === true) args.push('--no-read')
  if (opts.recvmmsg === true) args.push('--recvmmsg')
  if (opts.call !== undefined) args.push('--call', opts.call)
  if (opts.peek !== undefined) args.push('--peek', String(opts.peek))
  if (opts.connect !== undefined) args.push('--connect', opts.connect)
  if (opts.threads !== undefined) args.push('--threads', String(opts.threads))
  if (opts.reuseport !== undefined) args.push('--reuseport', String(opts.reuseport))
  const argv = [...(opts.prefix ?? []), opts.binary ?? UDPWORK, ...args]
  const child = spawn(argv[0]!, argv.slice(1))
  const out = lines(child)
  const ready = JSON.parse(await out.first) as { port: number, pid: number, arrivalStamps: boolean }
  // Its kernel stamps are ground truth only once the kernel stamps datagrams as they arrive (udpwork.c).
  if (!ready.arrivalStamps) throw new Error(`udpwork recv on ${opts.bind} could not see the kernel stamp datagrams on arrival`)
  const done = out.rest.then((rest) => rest.map((line) => JSON.parse(line) as Received))
  return { port: ready.port, pid: ready.pid, done, child }
}

export interface SendOptions {
  len?: number
  /** Datagram i is len + i % lenCycle bytes, so its length identifies it. */
  lenCycle?: number
  intervalUs?: number
  /** Source ADDR:PORT. */
  bind?: string
  prefix?: string[]
}

/** Sends `count` datagrams; resolves with the sender's source port. */
export async function send (to: string, count: number, opts: SendOptions = {}): Promise<number> {
  const args = ['send', '--to', to, '--count', String(count), '--len', String(opts.len ?? 64), '--interval-us', String(opts.intervalUs ?? 0)]
  if (opts.bind !== undefined) args.push('--bind', opts.bind)
  if (opts.lenCycle !== undefined) args.push('--len-cycle', String(opts.lenCycle))
  const argv = [...(opts.prefix ?? []), UDPWORK, ...args]
  const child = spawn(argv[0]!, argv.slice(1))
  const out = lines(child)
  await out.rest
  return (JSON.parse(await out.first) as { sport: number }).sport
}

/** Ids of every BPF program loaded on the host, from bpftool. */
export function loadedProgramIds (): Set<number> {
  const progs = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' })) as Array<{ id: number }>
  return new Set(progs.map((p) => p.id))
}

/** Pids of running loaders whose command line contains `pattern` (other tests may run loaders of their own). */
export function loaderPids (pattern: string): number[] {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).flatMap((name) => {
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0')
      return argv[0]?.endsWith('udplat-probe') === true && argv.join(' ').includes(pattern) ? [Number(name)] : []
    } catch {
      return []
    }
  })
}

/** Ids of one kind of BPF object (prog_id or map_id) a process holds, from its file descriptors' fdinfo. */
function bpfIdsOf (pid: number, field: 'prog_id' | 'map_id', only?: RegExp): number[] {
  const ids: number[] = []
  const pattern = new RegExp(`^${field}:\\s+(\\d+)$`, 'm')
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')
      const match = pattern.exec(info)
      if (match && (only === undefined || only.test(info))) ids.push(Number(match[1]))
    } catch { /* closed meanwhile */ }
  }
  return [...new Set(ids)].sort((a, b) => a - b)
}

/** The BPF programs a process holds, from the prog_id lines of its file descriptors. */
export function programIdsOf (pid: number): number[] {
  return bpfIdsOf(pid, 'prog_id')
}

/** The BPF maps a process holds, from the map_id lines of its file descriptors. */
export function mapIdsOf (pid: number): number[] {
  return bpfIdsOf(pid, 'map_id')
}

/** The ring buffers (map type 27) a process holds: a --shared loader's own ring is its session's slot in the hub. */
export function ringIdsOf (pid: number): number[] {
  return bpfIdsOf(pid, 'map_id', /^map_type:\s+27$/m)
}

function effectiveUid (pid: number): number | undefined {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'))
  return line === undefined ? undefined : Number(line.split(/\s+/)[2])
}

/** Pids of running hubs: `udplat-probe --hub PLAN`, the processes that hold --shared sessions' programs. */
export function hubPids (): number[] {
  return loaderPids('--hub ').filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[1] === '--hub'
    } catch {
      return false
    }
  })
}

/** The programs that serve a loader's session: its own, or for a --shared loader, those of its user's hub. */
export function sessionProgramIds (loaderPid: number): number[] {
  const own = programIdsOf(loaderPid)
  if (own.length > 0) return own
  const uid = effectiveUid(loaderPid)
  return [...new Set(hubPids().filter((pid) => effectiveUid(pid) === uid).flatMap(programIdsOf))].sort((a, b) => a - b)
}

/** The programs a receiving session with every mark the tracepoint plan sees has attached, by name, sorted. */
export const RECEIVE_PROGRAMS = [
  'ul_drop', 'ula_arrive', 'ule_exit', 'ulr_gro', 'ulr_gro_frags', 'ulr_netif_rx', 'ulr_skb', 'ulr_skb_list',
  'uls_rename', 'uls_switch', 'uls_wakeup', 'ult_enqueue', 'ult_read'
]

/** The programs one tracepoint-plan program set loads (bpf/kern/), by name, sorted: what this host's sessions run on. */
export const TRACEPOINT_PROGRAMS = [
  ...RECEIVE_PROGRAMS, 'ult_send_call', 'ult_sent', 'ulx_done', 'ulx_queue', 'ulx_start'
]

/** The names of the programs `ids`, from bpftool, sorted. */
export function programNames (ids: number[]): string[] {
  const programs = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' })) as Array<{ id: number, name: string }>
  return programs.filter((p) => ids.includes(p.id)).map((p) => p.name).sort()
}

/** Ids of the programs attached to a hook (bpftool link show): a loaded program runs only while attached. */
export function attachedProgramIds (): Set<number> {
  const links = JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' })) as Array<{ prog_id: number }>
  return new Set(links.map((link) => link.prog_id))
}

/** Waits until none of the programs `ids` is attached: a hub with no session detaches its programs and keeps them loaded. */
export async function programsDetached (ids: number[], timeoutMs = 3000): Promise<number[]> {
  return await bpfObjectsGone(ids, attachedProgramIds, timeoutMs)
}

/** Pids of running hub keepers (`udplat-probe --keep-hub`, which the service runs to keep its hub warm). */
export function keeperPids (): number[] {
  return loaderPids('--keep-hub')
}

/** Ids of every BPF map on the host, from bpftool. */
export function loadedMapIds (): Set<number> {
  const maps = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show'], { encoding: 'utf8' })) as Array<{ id: number }>
  return new Set(maps.map((m) => m.id))
}

/** Waits until none of `ids` is loaded: the kernel frees a released program after an RCU grace period. */
export async function programsGone (ids: number[], timeoutMs = 3000): Promise<number[]> {
  return await bpfObjectsGone(ids, loadedProgramIds, timeoutMs)
}

/** Waits until none of the maps `ids` exists. */
export async function mapsGone (ids: number[], timeoutMs = 3000): Promise<number[]> {
  return await bpfObjectsGone(ids, loadedMapIds, timeoutMs)
}

async function bpfObjectsGone (ids: number[], loadedIds: () => Set<number>, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const loaded = loadedIds()
    const left = ids.filter((id) => loaded.has(id))
    if (left.length === 0 || Date.now() > deadline) return left
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN
}

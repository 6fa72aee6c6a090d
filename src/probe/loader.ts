import { spawn } from 'node:child_process'
import type { FastifyBaseLogger } from 'fastify'
import {
  RecordError, RecordParser,
  type DropCountRecord, type DropRecord, type EventRecord, type HelloRecord, type HistRecord, type ProbeRecord, type StatsRecord
} from './records.js'
import { watchdog, type Watchdog } from './watchdog.js'

/** What a running loader sends after its hello. */
export type DataRecord = EventRecord | DropRecord | StatsRecord | HistRecord | DropCountRecord

export interface LoaderOptions {
  probePath: string
  args: string[]
  log: FastifyBaseLogger
  startTimeoutMs: number
  stopGraceMs: number
  /**
   * How often the loader sends its counters (`--stats-interval-ms`): the watchdog's clock. Without it
   * (a hub keeper, which sends nothing between hello and bye) nothing watches for silence.
   */
  statsIntervalMs?: number
  /** Aborting it before the hello kills the loader and fails the start. */
  signal?: AbortSignal
}

export interface LoaderListener {
  /** The probes are attached; called before any data record. */
  onHello (hello: HelloRecord): void
  onRecord (record: DataRecord): void
  /** The loader process is gone: `failure` says why, or is null when it stopped because it was asked to. */
  onExit (failure: string | null): void
}

export interface RunningLoader {
  readonly pid: number
  /** SIGTERM, SIGKILL after the grace period; resolves once the process has exited. */
  stop (): Promise<void>
}

/** Why the loader could not start; the message is the reason, fit to show a client. */
export class LoaderStartError extends Error {
  override name = 'LoaderStartError'

  /** Whether the loader refused its command line (exit code 2): the request was bad, not the kernel. */
  constructor (message: string, readonly refusedArguments: boolean) {
    super(message)
  }
}

/** The loader's exit code when it refuses its command line (bpf/udplat.c). */
const EXIT_BAD_ARGUMENTS = 2

const STDERR_TAIL_CHARS = 200
/** A running loader that sends nothing for this many stats intervals is taken for stuck and killed. */
export const SILENT_INTERVALS_LIMIT = 5

/**
 * Spawns one loader and resolves once it has attached its probes (its hello record).
 * Rejects only after the process is gone, so a failed start leaves nothing behind.
 */
export function startLoader (options: LoaderOptions, listener: LoaderListener): Promise<RunningLoader> {
  const { probePath, startTimeoutMs, stopGraceMs, statsIntervalMs } = options
  const args = statsIntervalMs === undefined ? options.args : [...options.args, '--stats-interval-ms', String(statsIntervalMs)]
  const child = spawn(probePath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const log = options.log.child({ loaderPid: child.pid })
  const parser = new RecordParser()
  let phase: 'starting' | 'running' | 'ended' = 'starting'
  let failure: string | undefined
  let stderrTail = ''
  let corrupt = false
  let stopRequested = false

  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  const abort = (reason: string) => {
    failure ??= reason
    child.kill('SIGKILL')
  }
  // From hello until asked to stop, the loader sends stats every interval whatever the traffic.
  let silence: Watchdog | undefined
  const watchSilence = (intervalMs: number) => watchdog(SILENT_INTERVALS_LIMIT * intervalMs, intervalMs, (silentMs) => {
    log.warn({ silentMs }, 'loader stopped responding, killing it')
    abort(`the loader stopped responding: no record for ${(silentMs / 1000).toFixed(1)} s`)
  })

  child.once('error', (err: NodeJS.ErrnoException) => {
    failure ??= cannotRun(probePath, err)
  })
  child.stderr.setEncoding('utf8')
  lines(child.stderr, (line) => {
    log.debug({ line }, 'loader stderr')
    stderrTail = line.slice(0, STDERR_TAIL_CHARS)
  })

  return new Promise((resolve, reject) => {
    const startTimer = setTimeout(() => abort(`the loader did not attach its probes within ${startTimeoutMs} ms`), startTimeoutMs)
    const onAbort = () => { if (phase === 'starting') abort('the session was stopped before its probes were attached') }
    options.signal?.addEventListener('abort', onAbort, { once: true })

    const handle = (record: ProbeRecord) => {
      if (record.type === 'error') {
        failure ??= record.message
      } else if (record.type === 'hello') {
        if (phase !== 'starting') return abort('the loader sent a second hello')
        phase = 'running'
        clearTimeout(startTimer)
        if (statsIntervalMs !== undefined) silence = watchSilence(statsIntervalMs)
        log.debug({ plan: record.plan, kernelRelease: record.kernelRelease }, 'loader attached')
        listener.onHello(record)
        resolve({ pid: child.pid ?? 0, stop })
      } else if (record.type !== 'bye') {
        if (phase !== 'running') return abort(`the loader sent a ${record.type} record before hello`)
        listener.onRecord(record)
      }
    }

    child.stdout.on('data', (chunk: Buffer) => {
      silence?.heard()
      if (corrupt) return
      try {
        for (const record of parser.push(chunk)) handle(record)
      } catch (err) {
        if (!(err instanceof RecordError)) throw err
        corrupt = true
        for (const record of err.records) handle(record)
        abort(`the loader sent a malformed record: ${err.message}`)
      }
    })

    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(startTimer)
      silence?.stop()
      options.signal?.removeEventListener('abort', onAbort)
      const reason = failure ?? describeExit(code, signal, phase === 'starting', stderrTail)
      if (phase === 'starting') {
        phase = 'ended'
        reject(new LoaderStartError(reason, code === EXIT_BAD_ARGUMENTS))
      } else if (phase === 'running') {
        phase = 'ended'
        log.debug({ code, signal }, 'loader exited')
        listener.onExit(stopRequested ? null : reason)
      }
    })
  })

  async function stop (): Promise<void> {
    if (phase === 'running' && !stopRequested) {
      stopRequested = true
      silence?.stop()
      child.kill('SIGTERM')
      const killTimer = setTimeout(() => {
        log.warn({ stopGraceMs }, 'loader ignored SIGTERM, killing it')
        child.kill('SIGKILL')
      }, stopGraceMs)
      await exited
      clearTimeout(killTimer)
    }
    await exited
  }
}

/** Why the loader binary could not be run at all. */
export function cannotRun (probePath: string, err: NodeJS.ErrnoException): string {
  return `cannot run the loader ${probePath}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message}`
}

function describeExit (code: number | null, signal: NodeJS.Signals | null, starting: boolean, stderrTail: string): string {
  const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`
  return `the loader ${how}${starting ? ' before attaching its probes' : ''}${stderrTail ? `: ${stderrTail}` : ''}`
}

/** Calls back with each complete line of a text stream. */
function lines (stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let partial = ''
  stream.on('data', (text: string) => {
    const parts = (partial + text).split('\n')
    partial = parts.pop() ?? ''
    for (const line of parts) if (line.trim() !== '') onLine(line)
  })
  stream.on('end', () => { if (partial.trim() !== '') onLine(partial) })
}

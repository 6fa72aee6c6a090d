import { spawn, type ChildProcessByStdio } from 'node:child_process'
import type { Readable } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import {
  RecordError, RecordParser,
  type DropCountRecord, type DropRecord, type EventRecord, type HelloRecord, type HistRecord, type ProbeRecord, type StatsRecord
} from './records.js'
import { watchdog, type Watchdog } from './watchdog.js'

/** What a running loader sends after its hello. */
export type DataRecord = EventRecord | DropRecord | StatsRecord | HistRecord | DropCountRecord

/**
 * The whole environment a loader runs in (config.loaderEnv): it runs with the probe's privileges, and inherits
 * nothing of the service's, its token least of all.
 */
export type LoaderEnv = Readonly<Record<string, string | undefined>>

export interface LoaderOptions {
  probePath: string
  env: LoaderEnv
  args: string[]
  log: FastifyBaseLogger
  startTimeoutMs: number
  stopGraceMs: number
  /**
   * How often the loader sends its counters (`--stats-interval-ms`): the watchdog's clock. Without it
   * (a hub keeper, whose silence is its hub's: see HubKeeper) nothing watches for silence.
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

/** The loader's exit code when it refuses its command line (bpf/user/udplat.c). */
const EXIT_BAD_ARGUMENTS = 2

const STDERR_TAIL_CHARS = 200
/** A running loader that sends nothing for this many stats intervals is taken for stuck and killed. */
export const SILENT_INTERVALS_LIMIT = 5

/**
 * Spawns one loader and resolves once it has attached its probes (its hello record).
 * Rejects only after the process is gone, so a failed start leaves nothing behind.
 */
export async function startLoader (options: LoaderOptions, listener: LoaderListener): Promise<RunningLoader> {
  return await new Promise((resolve, reject) => {
    const loader = new LoaderProcess(options, listener, { attached: () => resolve(loader), failed: reject })
  })
}

/** How startLoader hears whether the loader attached its probes. */
interface StartOutcome {
  attached: () => void
  failed: (err: LoaderStartError) => void
}

/**
 * Where a loader is in its life, with what belongs to that phase alone. Awaiting its hello, it has until a timer
 * fires; running, it sends data records and is watched for silence; asked to stop, its last records still count
 * and its exit is no failure.
 */
type Phase =
  | { name: 'awaiting hello', start: StartOutcome, timer: NodeJS.Timeout }
  | { name: 'running', silence: Watchdog | undefined }
  | { name: 'stopping' }
  | { name: 'exited' }

/** One loader process, from spawn to exit: what its records, its output and its exit mean in each phase. */
class LoaderProcess implements RunningLoader {
  readonly #options: LoaderOptions
  readonly #listener: LoaderListener
  readonly #child: ChildProcessByStdio<null, Readable, Readable>
  readonly #log: FastifyBaseLogger
  readonly #exited: Promise<void>
  #phase: Phase
  /** Undefined once a record was malformed: nothing after it is read. */
  #parser: RecordParser | undefined = new RecordParser()
  /** The first thing that went wrong; without one, the exit status is the reason. */
  #failure: string | undefined
  #stderrTail = ''

  constructor (options: LoaderOptions, listener: LoaderListener, start: StartOutcome) {
    this.#options = options
    this.#listener = listener
    const { probePath, startTimeoutMs, statsIntervalMs } = options
    const args = statsIntervalMs === undefined ? options.args : [...options.args, '--stats-interval-ms', String(statsIntervalMs)]
    const child = this.#child = spawn(probePath, args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] })
    this.#log = options.log.child({ loaderPid: child.pid })
    this.#exited = new Promise((resolve) => child.once('close', () => resolve()))
    const timer = setTimeout(() => this.#abort(`the loader did not attach its probes within ${startTimeoutMs} ms`), startTimeoutMs)
    this.#phase = { name: 'awaiting hello', start, timer }
    options.signal?.addEventListener('abort', this.#onAbort, { once: true })

    child.once('error', (err: NodeJS.ErrnoException) => {
      this.#failure ??= cannotRun(probePath, err)
    })
    child.stderr.setEncoding('utf8')
    lines(child.stderr, (line) => {
      this.#log.debug({ line }, 'loader stderr')
      this.#stderrTail = line.slice(0, STDERR_TAIL_CHARS)
    })
    child.stdout.on('data', (chunk: Buffer) => this.#read(chunk))
    child.stdout.once('end', () => this.#endOfOutput())
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => this.#onClose(code, signal))
  }

  get pid (): number { return this.#child.pid ?? 0 }

  async stop (): Promise<void> {
    const phase = this.#phase
    if (phase.name === 'running') {
      phase.silence?.stop()
      this.#phase = { name: 'stopping' }
      this.#child.kill('SIGTERM')
      const { stopGraceMs } = this.#options
      const killTimer = setTimeout(() => {
        this.#log.warn({ stopGraceMs }, 'loader ignored SIGTERM, killing it')
        this.#child.kill('SIGKILL')
      }, stopGraceMs)
      await this.#exited
      clearTimeout(killTimer)
    }
    await this.#exited
  }

  readonly #onAbort = (): void => {
    if (this.#phase.name === 'awaiting hello') this.#abort('the session was stopped before its probes were attached')
  }

  /** Kills the loader; `reason` is its failure unless something went wrong before. */
  #abort (reason: string): void {
    this.#failure ??= reason
    this.#child.kill('SIGKILL')
  }

  #read (chunk: Buffer): void {
    if (this.#phase.name === 'running') this.#phase.silence?.heard()
    const parser = this.#parser
    if (parser === undefined) return
    try {
      for (const record of parser.push(chunk)) this.#handle(record)
    } catch (err) {
      if (!(err instanceof RecordError)) throw err
      for (const record of err.records) this.#handle(record)
      this.#malformed(err)
    }
  }

  /** A record cut short by the end of the output is malformed too; after a stop was asked for, it is only logged. */
  #endOfOutput (): void {
    try {
      this.#parser?.end()
    } catch (err) {
      if (!(err instanceof RecordError)) throw err
      this.#log.warn({ error: err.message }, 'loader output ended inside a record')
      if (this.#phase.name !== 'stopping') this.#malformed(err)
    }
  }

  /** Nothing after a malformed record is read; the loader is killed, the record its failure. */
  #malformed (err: RecordError): void {
    this.#parser = undefined
    this.#abort(`the loader sent a malformed record: ${err.message}`)
  }

  #handle (record: ProbeRecord): void {
    const phase = this.#phase
    if (record.type === 'error') {
      this.#failure ??= record.message
    } else if (record.type === 'hello') {
      if (phase.name !== 'awaiting hello') return this.#abort('the loader sent a second hello')
      clearTimeout(phase.timer)
      this.#phase = { name: 'running', silence: this.#watchSilence() }
      this.#log.debug({ plan: record.plan, kernelRelease: record.kernelRelease }, 'loader attached')
      this.#listener.onHello(record)
      phase.start.attached()
    } else if (record.type !== 'bye') {
      if (phase.name !== 'running' && phase.name !== 'stopping') return this.#abort(`the loader sent a ${record.type} record before hello`)
      this.#listener.onRecord(record)
    }
  }

  /** From hello until asked to stop, the loader sends stats every interval whatever the traffic. */
  #watchSilence (): Watchdog | undefined {
    const intervalMs = this.#options.statsIntervalMs
    if (intervalMs === undefined) return undefined
    return watchdog(SILENT_INTERVALS_LIMIT * intervalMs, intervalMs, (silentMs) => {
      this.#log.warn({ silentMs }, 'loader stopped responding, killing it')
      this.#abort(`the loader stopped responding: no record for ${(silentMs / 1000).toFixed(1)} s`)
    })
  }

  #onClose (code: number | null, signal: NodeJS.Signals | null): void {
    const phase = this.#phase
    this.#phase = { name: 'exited' }
    this.#options.signal?.removeEventListener('abort', this.#onAbort)
    const reason = this.#failure ?? describeExit(code, signal, phase.name === 'awaiting hello', this.#stderrTail)
    if (phase.name === 'awaiting hello') {
      clearTimeout(phase.timer)
      phase.start.failed(new LoaderStartError(reason, code === EXIT_BAD_ARGUMENTS))
    } else if (phase.name !== 'exited') {
      if (phase.name === 'running') phase.silence?.stop()
      this.#log.debug({ code, signal }, 'loader exited')
      this.#listener.onExit(phase.name === 'stopping' ? null : reason)
    }
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

import type { FastifyBaseLogger } from 'fastify'
import { startLoader, type LoaderEnv, type RunningLoader } from './loader.js'
import type { PlanName } from './records.js'

export interface HubKeeperOptions {
  probePath: string
  env: LoaderEnv
  log: FastifyBaseLogger
  startTimeoutMs: number
  stopGraceMs: number
  /**
   * How long after the hub went away, or after the keeper failed to start, the keeper is started again; doubled
   * after each failed start, up to 30 s. A keeper that dies while its hub serves is started again at once.
   */
  restartMs: number
}

const MAX_RESTART_MS = 30_000
/** How often the keeper asks the hub whether it serves (its stats interval). */
export const HUB_PING_MS = 250
/** A hub silent for this long is not serving: stopped, or stuck. Three pings, so that a busy host raises no alarm. */
export const HUB_SILENCE_MS = 3 * HUB_PING_MS
/** What the keeper says when its hub has gone (bpf/user/udplat.c, keep()). */
const HUB_EXITED = 'the hub exited'

/** What the service knows of the hub it keeps. */
export interface HubStatus {
  /** Serving: its keeper joined it, and it answered within HUB_SILENCE_MS. */
  running: boolean
  /** The plan its programs are loaded for, while running. */
  plan: PlanName | null
  /** Why it is not running, once it has failed or gone silent. */
  error: string | null
}

/**
 * Keeps the host's hub warm for as long as the service runs: `udplat-probe --keep-hub` joins the hub of the
 * plan `auto` picks (starting it when none runs) and holds its connection open without a session, so that
 * the hub does not exit between sessions and a new session neither loads nor verifies programs (bpf/user/hub.h).
 * The keeper pings the hub every HUB_PING_MS and sends a stats record for each answer: the hub serves while
 * they come. When the hub goes, or the keeper dies, the keeper is started again; it dies with the service
 * (PR_SET_PDEATHSIG), and the hub exits once its last connection has closed.
 */
export class HubKeeper {
  #plan: PlanName | null = null
  /** When the hub last answered (performance.now()); undefined while no keeper has joined a hub. */
  #answeredAt: number | undefined
  /** Whether a keeper is joined and asking, from its hello to its exit: only then does silence tell. */
  #asking = false
  #error: string | null = null
  /** The keeper running or starting, resolved with undefined once it has failed to start. */
  #loader: Promise<RunningLoader | undefined> = Promise.resolve(undefined)
  #restart: NodeJS.Timeout | undefined
  #stopped = false
  #delayMs: number

  constructor (private readonly options: HubKeeperOptions) {
    this.#delayMs = options.restartMs
  }

  get status (): HubStatus {
    if (this.#answeredAt === undefined) return { running: false, plan: null, error: this.#error }
    const silence = this.silence
    return silence === null ? { running: true, plan: this.#plan, error: null } : { running: false, plan: null, error: silence }
  }

  /** Why the hub is taken for stopped or stuck, while it is: a loader that joined it now would wait in vain. */
  get silence (): string | null {
    if (this.#answeredAt === undefined || !this.#asking) return null
    const silentMs = performance.now() - this.#answeredAt
    return silentMs > HUB_SILENCE_MS ? `the hub has not answered for ${(silentMs / 1000).toFixed(1)} s: it is stopped or stuck` : null
  }

  start (): void {
    if (this.#stopped) return
    const { probePath, env, log, startTimeoutMs, stopGraceMs } = this.options
    const args = ['--keep-hub', '--format', 'bin', '--stats-interval-ms', String(HUB_PING_MS)]
    let helloAt: number | undefined
    this.#loader = startLoader({ probePath, env, args, log, startTimeoutMs, stopGraceMs }, {
      onHello: (hello) => {
        helloAt = this.#answeredAt = performance.now()
        this.#asking = true
        this.#plan = hello.plan
        this.#error = null
        this.#delayMs = this.options.restartMs
        log.info({ plan: hello.plan }, 'hub kept warm')
      },
      onRecord: (record) => {
        if (record.type === 'stats') this.#answeredAt = performance.now()
      },
      onExit: (failure) => {
        const reason = failure ?? 'the hub keeper exited'
        this.#asking = false
        // A keeper that ran a while and died of its own: its hub still serves as far as anyone knows, and the next
        // keeper joins it (or starts it again, when the keeper was its last connection).
        if (reason !== HUB_EXITED && helloAt !== undefined && performance.now() - helloAt >= this.options.restartMs) {
          log.warn({ error: reason }, 'hub keeper ended, starting it again')
          this.start()
        } else {
          this.#failed(reason)
        }
      }
    }).catch((err: Error) => {
      this.#failed(err.message)
      return undefined
    })
  }

  /** Stops the keeper for good; the hub exits after the sessions still using it. */
  async stop (): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#restart)
    await (await this.#loader)?.stop()
  }

  #failed (reason: string): void {
    this.#answeredAt = undefined
    this.#plan = null
    this.#error = reason
    if (this.#stopped) return
    this.options.log.warn({ error: reason, restartMs: this.#delayMs }, 'hub keeper ended, starting it again')
    this.#restart = setTimeout(() => this.start(), this.#delayMs)
    this.#restart.unref()
    this.#delayMs = Math.min(MAX_RESTART_MS, 2 * this.#delayMs)
  }
}

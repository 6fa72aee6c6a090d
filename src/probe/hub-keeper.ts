import type { FastifyBaseLogger } from 'fastify'
import { startLoader, type LoaderEnv, type RunningLoader } from './loader.js'
import type { PlanName } from './records.js'

export interface HubKeeperOptions {
  probePath: string
  env: LoaderEnv
  log: FastifyBaseLogger
  startTimeoutMs: number
  stopGraceMs: number
  /** How long after the keeper (or its hub) went away it is started again; doubled after each failed start, up to 30 s. */
  restartMs: number
}

const MAX_RESTART_MS = 30_000

/** What the service knows of the hub it keeps. */
export interface HubStatus {
  running: boolean
  /** The plan its programs are loaded for, while running. */
  plan: PlanName | null
  /** Why it is not running, once it has failed. */
  error: string | null
}

/**
 * Keeps the host's hub warm for as long as the service runs: `udplat-probe --keep-hub` joins the hub of the
 * plan `auto` picks (starting it when none runs) and holds its connection open without a session, so that
 * the hub does not exit between sessions and a new session neither loads nor verifies programs (bpf/user/hub.h).
 * When the keeper or its hub dies it is started again; it dies with the service (PR_SET_PDEATHSIG), and the
 * hub exits once its last connection has closed.
 */
export class HubKeeper {
  #status: HubStatus = { running: false, plan: null, error: null }
  /** The keeper running or starting, resolved with undefined once it has failed to start. */
  #loader: Promise<RunningLoader | undefined> = Promise.resolve(undefined)
  #restart: NodeJS.Timeout | undefined
  #stopped = false
  #delayMs: number

  constructor (private readonly options: HubKeeperOptions) {
    this.#delayMs = options.restartMs
  }

  get status (): HubStatus { return this.#status }

  start (): void {
    if (this.#stopped) return
    const { probePath, env, log, startTimeoutMs, stopGraceMs } = this.options
    this.#loader = startLoader({ probePath, env, args: ['--keep-hub', '--format', 'bin'], log, startTimeoutMs, stopGraceMs }, {
      onHello: (hello) => {
        this.#status = { running: true, plan: hello.plan, error: null }
        this.#delayMs = this.options.restartMs
        log.info({ plan: hello.plan }, 'hub kept warm')
      },
      onRecord: () => {},
      onExit: (failure) => this.#ended(failure ?? 'the hub keeper exited')
    }).catch((err: Error) => {
      this.#ended(err.message)
      return undefined
    })
  }

  /** Stops the keeper for good; the hub exits after the sessions still using it. */
  async stop (): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#restart)
    await (await this.#loader)?.stop()
  }

  #ended (reason: string): void {
    this.#status = { running: false, plan: null, error: reason }
    if (this.#stopped) return
    this.options.log.warn({ error: reason, restartMs: this.#delayMs }, 'hub keeper ended, starting it again')
    this.#restart = setTimeout(() => this.start(), this.#delayMs)
    this.#restart.unref()
    this.#delayMs = Math.min(MAX_RESTART_MS, 2 * this.#delayMs)
  }
}

import type { FastifyBaseLogger } from 'fastify'
import { realtimeClock, toDropEvent, toLatencyEvent } from '../probe/events.js'
import { startLoader, type DataRecord, type RunningLoader } from '../probe/loader.js'
import type { HelloRecord, StatsRecord } from '../probe/records.js'
import { probeArgs } from '../probe/args.js'
import type { SessionEvent } from '../schemas/event.js'
import { SESSION_DEFAULTS, type CreateSession, type Session as SessionResource } from '../schemas/session.js'
import { EventLog } from './event-log.js'

export type SessionState = SessionResource['state']

export interface LoaderSettings {
  probePath: string
  startTimeoutMs: number
  stopGraceMs: number
}

/** One capture: its loader process, its state, its counters and its buffered events. */
export class Session {
  readonly createdAt = new Date()
  readonly expiresAt: Date
  readonly spec: Required<Omit<CreateSession, 'name'>> & { name: string | null }
  readonly events: EventLog<SessionEvent>
  #state: SessionState = 'starting'
  #startedAt: Date | null = null
  #error: string | null = null
  #hello: HelloRecord | undefined
  #clock: ((monotonicNs: number) => string) | undefined
  #stats: StatsRecord | undefined
  #dropsByReason: Record<string, number> = {}
  #loader: Promise<RunningLoader | undefined> = Promise.resolve(undefined)
  #ttlTimer: NodeJS.Timeout | undefined
  #endState: 'stopped' | 'expired' = 'stopped'

  constructor (readonly id: string, request: CreateSession, private readonly log: FastifyBaseLogger) {
    this.spec = {
      name: request.name ?? null,
      filter: request.filter ?? {},
      thresholdUs: request.thresholdUs ?? SESSION_DEFAULTS.thresholdUs,
      plan: request.plan ?? SESSION_DEFAULTS.plan,
      bufferEvents: request.bufferEvents ?? SESSION_DEFAULTS.bufferEvents,
      ttlSeconds: request.ttlSeconds ?? SESSION_DEFAULTS.ttlSeconds
    }
    this.expiresAt = new Date(this.createdAt.getTime() + this.spec.ttlSeconds * 1000)
    this.events = new EventLog(this.spec.bufferEvents)
  }

  get state (): SessionState { return this.#state }

  get active (): boolean { return this.#state === 'starting' || this.#state === 'running' || this.#state === 'stopping' }

  /** Resolves once the probes are attached; rejects with a LoaderStartError when they could not be. */
  async start (settings: LoaderSettings): Promise<void> {
    const starting = startLoader({
      probePath: settings.probePath,
      args: probeArgs(this.spec),
      log: this.log,
      startTimeoutMs: settings.startTimeoutMs,
      stopGraceMs: settings.stopGraceMs
    }, {
      onHello: (hello) => this.#onHello(hello),
      onRecord: (record) => this.#onRecord(record),
      onExit: (failure) => this.#onExit(failure)
    })
    this.#loader = starting.catch(() => undefined)
    await starting
  }

  /** Stops the loader if it runs; `expired` when the TTL ran out. Never rejects. */
  async stop (endState: 'stopped' | 'expired' = 'stopped'): Promise<void> {
    const loader = await this.#loader
    if (this.#state === 'running') {
      this.#state = 'stopping'
      this.#endState = endState
      clearTimeout(this.#ttlTimer)
    }
    await loader?.stop()
  }

  toResource (): SessionResource {
    const stats = this.#stats
    const hello = this.#hello
    return {
      id: this.id,
      name: this.spec.name,
      state: this.#state,
      createdAt: this.createdAt.toISOString(),
      startedAt: this.#startedAt?.toISOString() ?? null,
      expiresAt: this.expiresAt.toISOString(),
      filter: this.spec.filter,
      thresholdUs: this.spec.thresholdUs,
      planRequested: this.spec.plan,
      plan: hello?.plan ?? null,
      marks: hello?.marks ?? [],
      kernelRelease: hello?.kernelRelease ?? null,
      notes: hello?.notes || null,
      bufferEvents: this.spec.bufferEvents,
      ttlSeconds: this.spec.ttlSeconds,
      error: this.#error,
      lastSeq: this.events.lastSeq,
      counts: {
        matched: stats?.matched ?? 0,
        slow: stats?.slow ?? 0,
        emitted: stats?.emitted ?? 0,
        kernelLost: stats?.kernelLost ?? 0,
        evicted: this.events.evicted,
        drops: stats?.drops ?? 0,
        dropsLost: stats?.dropsLost ?? 0,
        dropsByReason: { ...this.#dropsByReason },
        stale: stats?.stale ?? 0,
        untracked: stats?.untracked ?? 0
      }
    }
  }

  #onHello (hello: HelloRecord): void {
    this.#hello = hello
    this.#clock = realtimeClock(hello.realtimeOffsetNs)
    this.#state = 'running'
    this.#startedAt = new Date()
    this.#ttlTimer = setTimeout(() => {
      this.log.info('session expired')
      void this.stop('expired')
    }, Math.max(0, this.expiresAt.getTime() - Date.now()))
    this.#ttlTimer.unref()
    this.log.info({ plan: hello.plan, marks: hello.marks }, 'session running')
  }

  #onRecord (record: DataRecord): void {
    const clock = this.#clock
    if (clock === undefined) return
    switch (record.type) {
      case 'event':
        this.events.append((seq) => toLatencyEvent(record, seq, clock))
        break
      case 'drop':
        this.events.append((seq) => toDropEvent(record, seq, clock))
        break
      case 'stats':
        this.#stats = record
        break
      case 'drop_count':
        this.#dropsByReason[record.reasonName || `reason ${record.reason}`] = record.count
        break
      case 'hist': // not served yet
        break
    }
  }

  #onExit (failure: string | null): void {
    clearTimeout(this.#ttlTimer)
    if (failure === null) {
      this.#state = this.#endState
      this.log.info({ state: this.#state }, 'session ended')
    } else {
      this.#state = 'failed'
      this.#error = failure
      this.log.warn({ error: failure }, 'session failed')
    }
  }
}

import type { FastifyBaseLogger } from 'fastify'
import { READER_STATE_NAMES, STAGE_NAMES, StageMeter, type EventTypeName, type MarkName, type ReaderStateName, type StageName, type Verdict } from '../marks.js'
import { startLoader, type DataRecord, type LoaderEnv, type RunningLoader } from '../probe/loader.js'
import type { HelloRecord, HistName, StatsRecord } from '../probe/records.js'
import { probeArgs } from '../probe/args.js'
import type { Histogram } from '../schemas/histogram.js'
import { SESSION_DEFAULTS, type CreateSession, type Session as SessionResource } from '../schemas/session.js'
import { Changes } from './changes.js'
import type { ByteWriter } from './byte-writer.js'
import { EventFormatter } from './event-formatter.js'
import { EventLog } from './event-log.js'
import { EVENT_SLOT_BYTES, eventType, packRecord } from './event-slots.js'
import { stageHistogram } from './histogram.js'
import { RealtimeClock } from './realtime-clock.js'

export type SessionState = SessionResource['state']

/** A state the session entered, after how many events: streams deliver it between the events around it. */
export interface StateChange {
  state: SessionState
  error: string | null
  /** The last event's seq when the state was entered. */
  afterSeq: number
}

export interface LoaderSettings {
  probePath: string
  env: LoaderEnv
  startTimeoutMs: number
  stopGraceMs: number
  statsIntervalMs: number
}

/** Before the hello, no mark is known: no stage is measured. */
const NO_MARKS = new StageMeter([])

/** One capture: its loader process, its state, its counters and its buffered events. */
export class Session {
  readonly createdAt = new Date()
  readonly expiresAt: Date
  readonly spec: Required<Omit<CreateSession, 'name' | 'marks'>> & { name: string | null, marks: MarkName[] | null }
  /** The loader's event and drop records, packed (event-slots.ts); `writeEvent` turns one into JSON. */
  readonly events: EventLog
  /** Fires on every new event and every new state. */
  readonly changes = new Changes()
  /** Event streams reading this session: how many are open, and how many events they skipped as too slow. */
  readonly streams = { open: 0, lost: 0 }
  #state: SessionState = 'starting'
  /** Every state entered, in order: at most one per state. */
  readonly #stateChanges: StateChange[] = [{ state: 'starting', error: null, afterSeq: 0 }]
  #startedAt: Date | null = null
  #endedAt: Date | null = null
  #error: string | null = null
  #hello: HelloRecord | undefined
  #meter = NO_MARKS
  #clock: RealtimeClock | undefined
  #formatter: EventFormatter | undefined
  #stats: StatsRecord | undefined
  #histStats: StatsRecord | undefined
  #hists: Partial<Record<HistName, number[]>> = {}
  #dropsByReason: Record<string, number> = {}
  /** Events buffered since the start, evicted ones included, by type. */
  readonly #eventCounts: Record<EventTypeName | 'drop', number> = { latency: 0, send: 0, path: 0, drop: 0 }
  #loader: Promise<RunningLoader | undefined> = Promise.resolve(undefined)
  readonly #abortStart = new AbortController()
  #ttlTimer: NodeJS.Timeout | undefined
  #endState: 'stopped' | 'expired' = 'stopped'

  constructor (
    readonly id: string,
    request: CreateSession,
    private readonly log: FastifyBaseLogger,
    private readonly onEnded: (session: Session) => void = () => {}
  ) {
    this.spec = {
      name: request.name ?? null,
      filter: request.filter ?? {},
      thresholdUs: request.thresholdUs ?? SESSION_DEFAULTS.thresholdUs,
      plan: request.plan ?? SESSION_DEFAULTS.plan,
      marks: request.marks ?? null,
      // On by default where the session reads; a send session has none to follow.
      reader: request.reader ?? (request.direction !== 'send' && SESSION_DEFAULTS.reader),
      direction: request.direction ?? SESSION_DEFAULTS.direction,
      bufferEvents: request.bufferEvents ?? SESSION_DEFAULTS.bufferEvents,
      ttlSeconds: request.ttlSeconds ?? SESSION_DEFAULTS.ttlSeconds
    }
    this.expiresAt = new Date(this.createdAt.getTime() + this.spec.ttlSeconds * 1000)
    this.events = new EventLog(this.spec.bufferEvents, EVENT_SLOT_BYTES)
  }

  get state (): SessionState { return this.#state }

  get active (): boolean { return this.#state === 'starting' || this.#state === 'running' || this.#state === 'stopping' }

  get error (): string | null { return this.#error }

  /** Every state the session entered, in order, with the event it came after. */
  get stateChanges (): readonly StateChange[] { return this.#stateChanges }

  get stats (): StatsRecord | undefined { return this.#stats }

  get dropsByReason (): Readonly<Record<string, number>> { return this.#dropsByReason }

  /** Events buffered since the start, evicted ones included, by type. */
  get eventCounts (): Readonly<Record<EventTypeName | 'drop', number>> { return this.#eventCounts }

  /** The SSE `event:` name of buffered event `seq` (held: see `events.window`). */
  eventType (seq: number): EventTypeName | 'drop' {
    return eventType(this.events.bytes, this.events.offsetOf(seq))
  }

  /** Writes buffered event `seq` (held: see `events.window`) as JSON, built from its record now. */
  writeEvent (out: ByteWriter, seq: number): void {
    // Records are buffered only after the hello, which made the formatter.
    if (this.#formatter === undefined) throw new Error('no event is buffered before the hello')
    this.#formatter.write(out, this.events.bytes, this.events.offsetOf(seq), seq)
  }

  /** Resolves once the probes are attached; rejects with a LoaderStartError when they could not be. */
  async start (settings: LoaderSettings): Promise<void> {
    const starting = startLoader({
      probePath: settings.probePath,
      env: settings.env,
      args: probeArgs(this.spec),
      log: this.log,
      startTimeoutMs: settings.startTimeoutMs,
      stopGraceMs: settings.stopGraceMs,
      statsIntervalMs: settings.statsIntervalMs,
      signal: this.#abortStart.signal
    }, {
      onHello: (hello) => this.#onHello(hello),
      onRecord: (record) => this.#onRecord(record),
      onExit: (failure) => this.#onExit(failure)
    })
    this.#loader = starting.catch(() => undefined)
    await starting
  }

  /** Stops the loader if it runs, or keeps it from starting; `expired` when the TTL ran out. Never rejects. */
  async stop (endState: 'stopped' | 'expired' = 'stopped'): Promise<void> {
    if (this.#state === 'starting') this.#abortStart.abort()
    const loader = await this.#loader
    if (this.#state === 'running') {
      this.#setState('stopping')
      this.#endState = endState
      clearTimeout(this.#ttlTimer)
    }
    await loader?.stop()
  }

  /** Per-stage and per-reader-state histograms over every matching datagram, as the loader last reported them. */
  histogram (): Histogram {
    const stages = Object.fromEntries(STAGE_NAMES.map((stage) =>
      [stage, stageHistogram(this.#hists[stage] ?? [], this.#meter.measured[stage])])) as Histogram['stages']
    const reader = this.spec.reader
      ? Object.fromEntries(this.readerSlots.map(([state, slots]) => [state, stageHistogram(slots, true)])) as NonNullable<Histogram['reader']>
      : null
    const at = this.#histStats
    return { updatedAt: at && this.#clock ? this.#clock.iso(at.timeNs) : null, matched: at?.matched ?? 0, stages, reader }
  }

  /** The latest cumulative log2 slots of each reader state, when the session takes them. */
  get readerSlots (): Array<[ReaderStateName, readonly number[]]> {
    return this.spec.reader ? READER_STATE_NAMES.map((state) => [state, this.#hists[`reader.${state}`] ?? []]) : []
  }

  /** The latest cumulative log2 slots of each stage the plan measures. */
  get stageSlots (): Array<[StageName, readonly number[]]> {
    return STAGE_NAMES.flatMap((stage) => {
      const slots = this.#hists[stage]
      return this.#meter.measured[stage] && slots !== undefined ? [[stage, slots] as [StageName, number[]]] : []
    })
  }

  /** Slow datagrams by their reader's verdict, as the loader last counted them. */
  get readerVerdicts (): Record<Verdict, number> {
    const stats = this.#stats
    return {
      busy: stats?.readerBusy ?? 0,
      runqueue: stats?.readerRunqueue ?? 0,
      blocked: stats?.readerBlocked ?? 0,
      unknown: stats?.readerUnknown ?? 0
    }
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
      endedAt: this.#endedAt?.toISOString() ?? null,
      expiresAt: this.expiresAt.toISOString(),
      filter: this.spec.filter,
      thresholdUs: this.spec.thresholdUs,
      planRequested: this.spec.plan,
      reader: this.spec.reader,
      direction: this.spec.direction,
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
        untracked: stats?.untracked ?? 0,
        readerVerdicts: this.spec.reader ? this.readerVerdicts : null
      }
    }
  }

  #setState (state: SessionState): void {
    this.#state = state
    this.#stateChanges.push({ state, error: this.#error, afterSeq: this.events.lastSeq })
    this.changes.notify()
  }

  #onHello (hello: HelloRecord): void {
    this.#hello = hello
    this.#meter = new StageMeter(hello.marks)
    this.#clock = new RealtimeClock(hello.realtimeOffsetNs)
    this.#formatter = new EventFormatter(this.#clock, this.#meter)
    this.#startedAt = new Date()
    this.#setState('running')
    this.#ttlTimer = setTimeout(() => {
      this.log.info('session expired')
      void this.stop('expired')
    }, Math.max(0, this.expiresAt.getTime() - Date.now()))
    this.#ttlTimer.unref()
    this.log.info({ plan: hello.plan, marks: hello.marks }, 'session running')
  }

  #onRecord (record: DataRecord): void {
    if (this.#formatter === undefined) return
    switch (record.type) {
      case 'event':
      case 'drop':
        this.events.append(record.bytes, packRecord)
        this.#eventCounts[eventType(this.events.bytes, this.events.offsetOf(this.events.lastSeq))]++
        this.changes.notify()
        break
      case 'stats':
        this.#stats = record
        break
      case 'hist':
        // The loader sends the histograms right after the stats they go with.
        this.#hists[record.hist] = record.slots
        this.#histStats = this.#stats
        break
      case 'drop_count':
        this.#dropsByReason[record.reasonName || `reason ${record.reason}`] = record.count
        break
    }
  }

  #onExit (failure: string | null): void {
    clearTimeout(this.#ttlTimer)
    this.#endedAt = new Date()
    if (failure === null) {
      this.log.info({ state: this.#endState }, 'session ended')
      this.#setState(this.#endState)
    } else {
      this.#error = failure
      this.log.warn({ error: failure }, 'session failed')
      this.#setState('failed')
    }
    this.onEnded(this)
  }
}

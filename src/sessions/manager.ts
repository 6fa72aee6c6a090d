import type { FastifyBaseLogger } from 'fastify'
import { nanoid } from 'nanoid'
import { BufferLimit, LoaderFailed, SessionDeleted, SessionLimit, SessionNotFound, ValidationFailed } from '../errors.js'
import { LoaderStartError } from '../probe/loader.js'
import { SESSION_DEFAULTS, type CreateSession } from '../schemas/session.js'
import { checkCgroup } from './cgroups.js'
import { checkMarks } from './mark-choice.js'
import { checkNetns } from './netns.js'
import { Session, type LoaderSettings, type SessionState } from './session.js'

export interface SessionLimits {
  /** Sessions starting, running or stopping at once. */
  maxSessions: number
  /** Sum of bufferEvents over every session kept, ended ones included. */
  maxBufferedEvents: number
  /** How long an ended session stays readable. */
  retentionSeconds: number
  /** How many ended sessions are kept at most. */
  maxEndedSessions: number
}

/** Creates, finds and ends sessions, within the service's limits. */
export class SessionManager {
  readonly #sessions = new Map<string, Session>()
  readonly #retention = new Map<string, NodeJS.Timeout>()
  /** Sessions deleted: one still starting answers its POST with SessionDeleted. */
  readonly #deleted = new WeakSet<Session>()

  constructor (
    private readonly loader: LoaderSettings,
    readonly limits: SessionLimits,
    private readonly log: FastifyBaseLogger
  ) {}

  /** Resolves with a running session, or rejects and keeps nothing. */
  async create (request: CreateSession): Promise<Session> {
    // A send session has no reader: there is no reading thread to follow.
    if (request.reader === true && request.direction === 'send') throw new ValidationFailed('body/reader: a send session has no reader; take it with direction receive or both')
    checkMarks(request.marks, request.direction ?? SESSION_DEFAULTS.direction)
    if (request.filter?.cgroup !== undefined) await checkCgroup(request.filter.cgroup)
    if (request.filter?.netns !== undefined) await checkNetns(request.filter.netns)
    const id = nanoid()
    const session = new Session(id, request, this.log.child({ sessionId: id }), (ended) => this.#retain(ended))
    this.#checkLimits(session.spec.bufferEvents)
    this.#sessions.set(id, session)
    try {
      await session.start(this.loader)
    } catch (err) {
      this.#sessions.delete(id)
      if (this.#deleted.has(session)) throw new SessionDeleted(id)
      if (err instanceof LoaderStartError) throw err.refusedArguments ? new ValidationFailed(err.message) : new LoaderFailed(err.message)
      throw err
    }
    return session
  }

  list (state?: SessionState): Session[] {
    const sessions = [...this.#sessions.values()]
    return state === undefined ? sessions : sessions.filter((session) => session.state === state)
  }

  get (id: string): Session {
    const session = this.#sessions.get(id)
    if (session === undefined) throw new SessionNotFound(id)
    return session
  }

  /** Events all kept sessions may buffer, ended ones included. */
  get reservedEvents (): number {
    return this.list().reduce((sum, session) => sum + session.spec.bufferEvents, 0)
  }

  /** Stops the session's loader, waits for it to exit, then forgets the session. */
  async delete (id: string): Promise<void> {
    const session = this.get(id)
    this.#deleted.add(session)
    await session.stop()
    this.#forget(id)
  }

  /** Stops every loader; for shutdown. */
  async stopAll (): Promise<void> {
    await Promise.all(this.list().map((session) => session.stop()))
    for (const timer of this.#retention.values()) clearTimeout(timer)
  }

  #forget (id: string): void {
    clearTimeout(this.#retention.get(id))
    this.#retention.delete(id)
    this.#sessions.delete(id)
  }

  /**
   * An ended session stays readable for the retention period, unless deleted first, and while no more than
   * maxEndedSessions ended after it: #retention holds them in the order they ended.
   */
  #retain (session: Session): void {
    const timer = setTimeout(() => {
      this.log.info({ sessionId: session.id, state: session.state }, 'removing an ended session after its retention period')
      this.#forget(session.id)
    }, this.limits.retentionSeconds * 1000)
    timer.unref()
    this.#retention.set(session.id, timer)
    for (const oldest of this.#retention.keys()) {
      if (this.#retention.size <= this.limits.maxEndedSessions) break
      this.log.info({ sessionId: oldest, maxEndedSessions: this.limits.maxEndedSessions }, 'removing the oldest ended session: too many ended sessions kept')
      this.#forget(oldest)
    }
  }

  #checkLimits (bufferEvents: number): void {
    if (this.list().filter((session) => session.active).length >= this.limits.maxSessions) {
      throw new SessionLimit(this.limits.maxSessions)
    }
    const left = this.limits.maxBufferedEvents - this.reservedEvents
    if (bufferEvents > left) throw new BufferLimit(bufferEvents, left)
  }
}

import type { FastifyBaseLogger } from 'fastify'
import { nanoid } from 'nanoid'
import { BufferLimit, LoaderFailed, SessionLimit, SessionNotFound } from '../errors.js'
import { LoaderStartError } from '../probe/loader.js'
import type { CreateSession } from '../schemas/session.js'
import { Session, type LoaderSettings, type SessionState } from './session.js'

export interface SessionLimits {
  /** Sessions starting, running or stopping at once. */
  maxSessions: number
  /** Sum of bufferEvents over every session kept, ended ones included. */
  maxBufferedEvents: number
}

/** Creates, finds and ends sessions, within the service's limits. */
export class SessionManager {
  readonly #sessions = new Map<string, Session>()

  constructor (
    private readonly loader: LoaderSettings,
    private readonly limits: SessionLimits,
    private readonly log: FastifyBaseLogger
  ) {}

  /** Resolves with a running session, or rejects and keeps nothing. */
  async create (request: CreateSession): Promise<Session> {
    const id = nanoid()
    const session = new Session(id, request, this.log.child({ sessionId: id }))
    this.#checkLimits(session.spec.bufferEvents)
    this.#sessions.set(id, session)
    try {
      await session.start(this.loader)
    } catch (err) {
      this.#sessions.delete(id)
      if (err instanceof LoaderStartError) throw new LoaderFailed(err.message)
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

  /** Stops the session's loader, waits for it to exit, then forgets the session. */
  async delete (id: string): Promise<void> {
    await this.get(id).stop()
    this.#sessions.delete(id)
  }

  /** Stops every loader; for shutdown. */
  async stopAll (): Promise<void> {
    await Promise.all(this.list().map((session) => session.stop()))
  }

  #checkLimits (bufferEvents: number): void {
    const sessions = this.list()
    if (sessions.filter((session) => session.active).length >= this.limits.maxSessions) {
      throw new SessionLimit(this.limits.maxSessions)
    }
    const reserved = sessions.reduce((sum, session) => sum + session.spec.bufferEvents, 0)
    const left = this.limits.maxBufferedEvents - reserved
    if (bufferEvents > left) throw new BufferLimit(bufferEvents, left)
  }
}

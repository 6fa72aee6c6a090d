import { Readable } from 'node:stream'
import type { Session, SessionState } from './session.js'

/** Frames are pushed in chunks of about this many characters: one socket write each. */
const CHUNK_CHARS = 64 * 1024
const PAGE_EVENTS = 1024

/**
 * One client's Server-Sent Events over a session: `latency` and `drop` events with `id:` their seq,
 * `lost` when the client fell behind the session's bounded buffer, `state` first and on every change,
 * heartbeat comments while idle. Ends after the session has ended and every event is out.
 *
 * It reads the session's EventLog by cursor only when the socket wants more (a Readable piped to the
 * response), so a slow client costs a cursor and one chunk, never a queue of its own.
 */
export class EventStream extends Readable {
  #cursor: number
  #sentState: SessionState | undefined
  #finished = false
  #pumping = false
  readonly #closed = new AbortController()

  constructor (private readonly session: Session, after: number, private readonly heartbeatMs: number) {
    super({ highWaterMark: CHUNK_CHARS })
    this.#cursor = after
    session.streams.open++
  }

  override _read (): void {
    if (!this.#pumping) void this.#pump()
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    this.#closed.abort()
    this.session.streams.open--
    callback(err)
  }

  /** Pushes until the consumer is full or there is nothing to say; then waits for the session to change. */
  async #pump (): Promise<void> {
    this.#pumping = true
    try {
      while (!this.destroyed) {
        const chunk = this.#next()
        if (chunk !== '') {
          if (!this.push(chunk)) return
        } else if (this.#finished) {
          this.push(null)
          return
        } else if (!await this.session.changes.wait(this.heartbeatMs, this.#closed.signal) && !this.destroyed) {
          if (!this.push(': heartbeat\n\n')) return
        }
      }
    } finally {
      this.#pumping = false
    }
  }

  /** The next chunk of frames, '' when the client is caught up and the state is unchanged. */
  #next (): string {
    const { session } = this
    let out = this.#sentState === undefined ? this.#stateFrame() : ''
    let caughtUp = false
    while (out.length < CHUNK_CHARS) {
      const page = session.events.read(this.#cursor, PAGE_EVENTS)
      const [first] = page.items
      if (first === undefined) {
        caughtUp = true
        break
      }
      if (page.evicted > 0) {
        session.streams.lost += page.evicted
        // Its id is the last seq it stands for, so a client resuming after it is not told again.
        out += `id: ${first.seq - 1}\nevent: lost\ndata: {"count":${page.evicted},"nextSeq":${first.seq}}\n\n`
      }
      for (const event of page.items) out += `id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`
      this.#cursor = page.nextAfter
    }
    if (caughtUp) {
      if (session.state !== this.#sentState) out += this.#stateFrame()
      this.#finished = !session.active
    }
    return out
  }

  #stateFrame (): string {
    const { state, error } = this.session
    this.#sentState = state
    return `event: state\ndata: ${JSON.stringify({ state, error })}\n\n`
  }
}

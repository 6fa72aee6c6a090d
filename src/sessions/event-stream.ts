import { Readable } from 'node:stream'
import { ascii, ByteWriter } from './byte-writer.js'
import type { Session, SessionState } from './session.js'

/** Frames are pushed in chunks of about this many bytes: one socket write each. */
const CHUNK_BYTES = 64 * 1024
const PAGE_EVENTS = 1024
const FRAME = {
  id: ascii('id: '),
  latency: ascii('\nevent: latency\ndata: '),
  drop: ascii('\nevent: drop\ndata: '),
  end: ascii('\n\n')
} as const

/**
 * One client's Server-Sent Events over a session: `latency` and `drop` events with `id:` their seq,
 * `lost` when the client fell behind the session's bounded buffer, `state` first and on every change,
 * heartbeat comments while idle. Ends after the session has ended and every event is out.
 *
 * It reads the session's EventLog by cursor only when the socket wants more (a Readable piped to the
 * response), so a slow client costs a cursor and one chunk, never a queue of its own; the events'
 * JSON is built from the buffered records as the chunk is.
 */
export class EventStream extends Readable {
  #cursor: number
  #sentState: SessionState | undefined
  #finished = false
  #pumping = false
  readonly #closed = new AbortController()
  readonly #out = new ByteWriter(CHUNK_BYTES + 4096)

  constructor (private readonly session: Session, after: number, private readonly heartbeatMs: number) {
    super({ highWaterMark: CHUNK_BYTES })
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
        if (chunk !== undefined) {
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

  /** The next chunk of frames, undefined when the client is caught up and the state is unchanged. */
  #next (): Buffer | undefined {
    const { session } = this
    const out = this.#out
    if (this.#sentState === undefined) this.#stateFrame()
    let caughtUp = false
    while (out.length < CHUNK_BYTES) {
      const window = session.events.window(this.#cursor, PAGE_EVENTS)
      if (window.last < window.first) {
        caughtUp = true
        break
      }
      if (window.evicted > 0) {
        session.streams.lost += window.evicted
        // Its id is the last seq it stands for, so a client resuming after it is not told again.
        out.text(`id: ${window.first - 1}\nevent: lost\ndata: {"count":${window.evicted},"nextSeq":${window.first}}\n\n`)
      }
      let seq = window.first
      for (; seq <= window.last && out.length < CHUNK_BYTES; seq++) {
        out.bytes(FRAME.id)
        out.integer(seq)
        out.bytes(FRAME[session.eventType(seq)])
        session.writeEvent(out, seq)
        out.bytes(FRAME.end)
      }
      this.#cursor = seq - 1
    }
    if (caughtUp) {
      if (session.state !== this.#sentState) this.#stateFrame()
      this.#finished = !session.active
    }
    return out.length > 0 ? out.take() : undefined
  }

  #stateFrame (): void {
    const { state, error } = this.session
    this.#sentState = state
    this.#out.text(`event: state\ndata: ${JSON.stringify({ state, error })}\n\n`)
  }
}

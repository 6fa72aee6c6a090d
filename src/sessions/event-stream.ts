import { Readable } from 'node:stream'
import { ascii, ByteWriter } from './byte-writer.js'
import type { Session } from './session.js'
import { streamTurns, type TurnTaker } from './turns.js'

/** Frames are pushed in chunks of about this many bytes: one socket write each. */
const CHUNK_BYTES = 64 * 1024
const PAGE_EVENTS = 1024
const FRAME = {
  id: ascii('id: '),
  latency: ascii('\nevent: latency\ndata: '),
  send: ascii('\nevent: send\ndata: '),
  path: ascii('\nevent: path\ndata: '),
  drop: ascii('\nevent: drop\ndata: '),
  end: ascii('\n\n')
} as const

/**
 * One client's Server-Sent Events over a session: `latency`, `send`, `path` and `drop` events with `id:` their seq,
 * `lost` when the client fell behind the session's bounded buffer, `state` first and then every state the
 * session enters, in order between the events around it, heartbeat comments while idle. Ends after the
 * session has ended and every event and state is out.
 *
 * It reads the session's EventLog by cursor only when the socket wants more (a Readable piped to the
 * response), so a slow client costs a cursor and one chunk, never a queue of its own; the events'
 * JSON is built from the buffered records as the chunk is, in a turn shared with every other stream.
 */
export class EventStream extends Readable implements TurnTaker {
  #cursor: number
  /** The index in session.stateChanges of the last state sent; -1 before the first frame. */
  #sentChange = -1
  #finished = false
  /** Caught up: it asks for its next turn when the session changes, or sends a heartbeat. */
  #idle = false
  readonly #closed = new AbortController()
  readonly #out = new ByteWriter(CHUNK_BYTES + 4096)

  constructor (private readonly session: Session, after: number, private readonly heartbeatMs: number) {
    super({ highWaterMark: CHUNK_BYTES })
    this.#cursor = after
    session.streams.open++
  }

  /** The consumer wants more: frames are written in the stream's next turn (turns.ts), never here. */
  override _read (): void {
    if (!this.#idle) streamTurns.want(this)
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    streamTurns.cancel(this)
    this.#closed.abort()
    this.session.streams.open--
    callback(err)
  }

  /** Pushes one chunk; true while the consumer wants more. Caught up, it waits for the session to change. */
  takeTurn (): boolean {
    if (this.destroyed) return false
    const chunk = this.#next()
    if (chunk !== undefined) return this.push(chunk)
    if (this.#finished) this.push(null)
    else void this.#waitForChange()
    return false
  }

  async #waitForChange (): Promise<void> {
    this.#idle = true
    const changed = await this.session.changes.wait(this.heartbeatMs, this.#closed.signal)
    this.#idle = false
    if (this.destroyed) return
    if (changed || this.push(': heartbeat\n\n')) streamTurns.want(this)
  }

  /** The next chunk of frames, undefined when the client is caught up and the state is unchanged. */
  #next (): Buffer | undefined {
    const { session } = this
    const out = this.#out
    // The state the session is in comes first; every later one follows in order.
    if (this.#sentChange < 0) this.#stateFrame(session.stateChanges.length - 1)
    let caughtUp = false
    while (out.length < CHUNK_BYTES) {
      const window = session.events.window(this.#cursor, PAGE_EVENTS)
      if (window.last < window.first) {
        caughtUp = true
        break
      }
      this.#stateFrames(window.first - 1)
      if (window.evicted > 0) {
        session.streams.lost += window.evicted
        // Its id is the last seq it stands for, so a client resuming after it is not told again.
        out.text(`id: ${window.first - 1}\nevent: lost\ndata: {"count":${window.evicted},"nextSeq":${window.first}}\n\n`)
      }
      let seq = window.first
      // States change between reads of the log, never during one: where the next one goes is known here.
      let nextStateAfter = session.stateChanges[this.#sentChange + 1]?.afterSeq ?? Number.POSITIVE_INFINITY
      for (; seq <= window.last && out.length < CHUNK_BYTES; seq++) {
        if (seq > nextStateAfter) {
          this.#stateFrames(seq - 1)
          nextStateAfter = session.stateChanges[this.#sentChange + 1]?.afterSeq ?? Number.POSITIVE_INFINITY
        }
        out.bytes(FRAME.id)
        out.integer(seq)
        out.bytes(FRAME[session.eventType(seq)])
        session.writeEvent(out, seq)
        out.bytes(FRAME.end)
      }
      this.#cursor = seq - 1
    }
    if (caughtUp) {
      this.#stateFrames(Number.POSITIVE_INFINITY)
      this.#finished = !session.active && this.#sentChange === session.stateChanges.length - 1
    }
    return out.length > 0 ? out.take() : undefined
  }

  /** Frames for the states not sent yet that the session entered before event `afterSeq + 1`. */
  #stateFrames (afterSeq: number): void {
    const changes = this.session.stateChanges
    for (let next = changes[this.#sentChange + 1]; next !== undefined && next.afterSeq <= afterSeq; next = changes[this.#sentChange + 1]) {
      this.#stateFrame(this.#sentChange + 1)
    }
  }

  #stateFrame (index: number): void {
    const { state, error } = this.session.stateChanges[index]!
    this.#sentChange = index
    this.#out.text(`event: state\ndata: ${JSON.stringify({ state, error })}\n\n`)
  }
}

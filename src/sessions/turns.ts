import { performance } from 'node:perf_hooks'

/** How long event streams may write in one turn of the event loop before other requests get theirs. */
const SLICE_MS = 5

/** Something that writes in turns: an event stream. */
export interface TurnTaker {
  /** Does one turn's work (at most one chunk); true to get another turn, after everyone waiting. */
  takeTurn: () => boolean
}

/**
 * Shares the event loop between event streams and everything else, and the streams' share between them.
 * A stream asks for a turn when it wants to write; the turns run here, round-robin, one chunk each, in the
 * event loop's check phase, for at most `sliceMs` per turn of the loop, and then I/O has its own. A stream
 * never writes outside a turn: one that did would add its chunk to every turn of the loop, and 100 streams
 * draining a backlog would hold every other request for 40 ms at a time.
 */
export class Turns {
  /** Who waits for a turn, in the order they get it (a Set keeps insertion order; re-adding moves to the end). */
  readonly #waiting = new Set<TurnTaker>()
  #scheduled = false

  constructor (private readonly sliceMs: number) {}

  /** Asks for a turn, once however often asked: from the next check phase, after everyone waiting. */
  want (taker: TurnTaker): void {
    this.#waiting.add(taker)
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(this.#run)
  }

  /** Gives up the turn asked for, if any. */
  cancel (taker: TurnTaker): void {
    this.#waiting.delete(taker)
  }

  readonly #run = (): void => {
    this.#scheduled = false
    const start = performance.now()
    // The iterator visits takers added while it runs: one that wants more goes round again after the others.
    for (const taker of this.#waiting) {
      this.#waiting.delete(taker)
      if (taker.takeTurn()) this.#waiting.add(taker)
      if (performance.now() - start >= this.sliceMs) break
    }
    if (this.#waiting.size > 0 && !this.#scheduled) {
      this.#scheduled = true
      setImmediate(this.#run)
    }
  }
}

/** The turns every event stream of this process shares: they share one event loop. */
export const streamTurns = new Turns(SLICE_MS)

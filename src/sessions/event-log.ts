/** What a read after a cursor gets: the seqs `first` to `last`, none when last < first. */
export interface EventWindow {
  first: number
  last: number
  /** The cursor for the next read: `last` when the window holds items, else `after`. */
  nextAfter: number
  /** Items between the cursor and `first` that were evicted. */
  evicted: number
}

/**
 * A bounded ring of fixed-size binary records numbered 1, 2, 3…, in one Buffer allocated up front;
 * the oldest are overwritten when it is full. A record's seq is implied by its slot, so buffering
 * one costs a copy and no object: readers decode the slots they read.
 */
export class EventLog {
  /** The slots: seq s is at offsetOf(s), while the ring holds it. */
  readonly bytes: Buffer
  #lastSeq = 0

  /** `slotBytes`: room for the largest record appended, as packed. */
  constructor (readonly capacity: number, readonly slotBytes: number) {
    this.bytes = Buffer.alloc(capacity * slotBytes)
  }

  get lastSeq (): number { return this.#lastSeq }

  /** How many items were ever pushed out. */
  get evicted (): number { return Math.max(0, this.#lastSeq - this.capacity) }

  /** Packs `record` into the next slot (at most slotBytes from `at`); returns its seq. */
  append<R> (record: R, pack: (record: R, slots: Buffer, at: number) => void): number {
    const seq = ++this.#lastSeq
    pack(record, this.bytes, this.offsetOf(seq))
    return seq
  }

  /** The held items after seq `after`, at most `limit`; valid until the next append. */
  window (after: number, limit: number): EventWindow {
    const first = Math.max(after + 1, this.evicted + 1)
    const last = Math.min(this.#lastSeq, first + limit - 1)
    return last < first ? { first, last, nextAfter: after, evicted: 0 } : { first, last, nextAfter: last, evicted: first - (after + 1) }
  }

  offsetOf (seq: number): number {
    return ((seq - 1) % this.capacity) * this.slotBytes
  }
}

export interface EventPage<T> {
  items: T[]
  /** The cursor for the next read: the seq of the last item returned, else `after`. */
  nextAfter: number
  /** Items between the cursor and the first returned that were evicted. */
  evicted: number
}

/** A bounded ring of items numbered 1, 2, 3…; the oldest are evicted when it is full. */
export class EventLog<T> {
  readonly #items: T[] = []
  #lastSeq = 0

  constructor (readonly capacity: number) {}

  get lastSeq (): number { return this.#lastSeq }

  /** How many items were ever pushed out. */
  get evicted (): number { return Math.max(0, this.#lastSeq - this.capacity) }

  append (build: (seq: number) => T): void {
    const seq = ++this.#lastSeq
    const item = build(seq)
    // Slot of seq s is (s - 1) % capacity, both while the ring grows and once it wraps.
    if (this.#items.length < this.capacity) this.#items.push(item)
    else this.#items[(seq - 1) % this.capacity] = item
  }

  read (after: number, limit: number): EventPage<T> {
    const first = Math.max(after + 1, this.evicted + 1)
    const last = Math.min(this.#lastSeq, first + limit - 1)
    const items: T[] = []
    for (let seq = first; seq <= last; seq++) items.push(this.#items[(seq - 1) % this.capacity] as T)
    return {
      items,
      nextAfter: items.length > 0 ? last : after,
      evicted: items.length > 0 ? first - (after + 1) : 0
    }
  }
}

import { describe, expect, it } from 'vitest'
import { EventLog } from '../../src/sessions/event-log.js'

const SLOT_BYTES = 8
/** Copies the record as it is. */
const copy = (record: Buffer, slots: Buffer, at: number) => { record.copy(slots, at) }

/** A log of `count` records of 1 to SLOT_BYTES bytes, each starting with its seq's low byte. */
function filled (capacity: number, count: number): EventLog {
  const log = new EventLog(capacity, SLOT_BYTES)
  for (let i = 1; i <= count; i++) {
    const record = Buffer.alloc(1 + (i % SLOT_BYTES))
    record.writeUInt8(i % 256, 0)
    expect(log.append(record, copy)).toBe(i)
  }
  return log
}

/** The seqs a read gets, each checked against the byte appended to its slot, as a page of items. */
function read (log: EventLog, after: number, limit: number) {
  const { first, last, nextAfter, evicted } = log.window(after, limit)
  const items: number[] = []
  for (let seq = first; seq <= last; seq++) {
    expect(log.bytes.readUInt8(log.offsetOf(seq))).toBe(seq % 256)
    items.push(seq)
  }
  return { items, nextAfter, evicted }
}

describe('EventLog', () => {
  it('numbers items from 1', () => {
    const log = filled(10, 3)
    expect(log.lastSeq).toBe(3)
    expect(read(log, 0, 100)).toEqual({ items: [1, 2, 3], nextAfter: 3, evicted: 0 })
  })

  it('pages with the cursor', () => {
    const log = filled(10, 7)
    expect(read(log, 0, 3)).toEqual({ items: [1, 2, 3], nextAfter: 3, evicted: 0 })
    expect(read(log, 3, 3)).toEqual({ items: [4, 5, 6], nextAfter: 6, evicted: 0 })
    expect(read(log, 6, 3)).toEqual({ items: [7], nextAfter: 7, evicted: 0 })
    expect(read(log, 7, 3)).toEqual({ items: [], nextAfter: 7, evicted: 0 })
  })

  it('evicts the oldest items and says how many the cursor missed', () => {
    const log = filled(4, 10)
    expect(log.evicted).toBe(6)
    expect(read(log, 0, 100)).toEqual({ items: [7, 8, 9, 10], nextAfter: 10, evicted: 6 })
    expect(read(log, 5, 2)).toEqual({ items: [7, 8], nextAfter: 8, evicted: 1 })
    expect(read(log, 6, 100)).toEqual({ items: [7, 8, 9, 10], nextAfter: 10, evicted: 0 })
  })

  it('keeps order across many wraps', () => {
    const log = filled(3, 1000)
    expect(read(log, 990, 100)).toEqual({ items: [998, 999, 1000], nextAfter: 1000, evicted: 7 })
  })

  it('keeps a cursor beyond the end', () => {
    expect(read(filled(3, 2), 50, 10)).toEqual({ items: [], nextAfter: 50, evicted: 0 })
  })

  it('holds each record in its slot until the ring comes round to it again', () => {
    const log = new EventLog(2, 3)
    for (const text of ['one', 'two', 'six']) log.append(Buffer.from(text), copy)
    const slot = (seq: number) => log.bytes.toString('latin1', log.offsetOf(seq), log.offsetOf(seq) + 3)
    expect(log.window(0, 10)).toEqual({ first: 2, last: 3, nextAfter: 3, evicted: 1 })
    expect([slot(2), slot(3)]).toEqual(['two', 'six'])
  })
})

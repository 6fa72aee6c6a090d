import { describe, expect, it } from 'vitest'
import { EventLog } from '../../src/sessions/event-log.js'

function filled (capacity: number, count: number): EventLog<number> {
  const log = new EventLog<number>(capacity)
  for (let i = 0; i < count; i++) log.append((seq) => seq)
  return log
}

describe('EventLog', () => {
  it('numbers items from 1', () => {
    const log = filled(10, 3)
    expect(log.lastSeq).toBe(3)
    expect(log.read(0, 100)).toEqual({ items: [1, 2, 3], nextAfter: 3, evicted: 0 })
  })

  it('pages with the cursor', () => {
    const log = filled(10, 7)
    expect(log.read(0, 3)).toEqual({ items: [1, 2, 3], nextAfter: 3, evicted: 0 })
    expect(log.read(3, 3)).toEqual({ items: [4, 5, 6], nextAfter: 6, evicted: 0 })
    expect(log.read(6, 3)).toEqual({ items: [7], nextAfter: 7, evicted: 0 })
    expect(log.read(7, 3)).toEqual({ items: [], nextAfter: 7, evicted: 0 })
  })

  it('evicts the oldest items and says how many the cursor missed', () => {
    const log = filled(4, 10)
    expect(log.evicted).toBe(6)
    expect(log.read(0, 100)).toEqual({ items: [7, 8, 9, 10], nextAfter: 10, evicted: 6 })
    expect(log.read(5, 2)).toEqual({ items: [7, 8], nextAfter: 8, evicted: 1 })
    expect(log.read(6, 100)).toEqual({ items: [7, 8, 9, 10], nextAfter: 10, evicted: 0 })
  })

  it('keeps order across many wraps', () => {
    const log = filled(3, 1000)
    expect(log.read(990, 100)).toEqual({ items: [998, 999, 1000], nextAfter: 1000, evicted: 7 })
  })

  it('keeps a cursor beyond the end', () => {
    expect(filled(3, 2).read(50, 10)).toEqual({ items: [], nextAfter: 50, evicted: 0 })
  })
})

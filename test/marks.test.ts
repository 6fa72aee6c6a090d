import { describe, expect, it } from 'vitest'
import { MARK_NAMES, STAGE_NAMES, StageMeter } from '../src/marks.js'

const ALL = new StageMeter(MARK_NAMES)
const TRACEPOINT = new StageMeter(['rx', 'arrive', 'enqueue', 'return'])
const SEED = new StageMeter(['enqueue', 'return'])

/** The fixture's IPv4 event: rx, arrive, enqueue, read, return. */
const MARKS = [999990000, 1000000000, 1000010000, 1020010000, 1020015000]

/** Every stage of a datagram by name, and its slowest part. */
function measure (meter: StageMeter, marks: number[]) {
  const ns: Array<number | null> = []
  const slowest = meter.measure(marks, ns)
  return { slowestStage: slowest < 0 ? null : STAGE_NAMES[slowest], stages: Object.fromEntries(STAGE_NAMES.map((name, i) => [name, ns[i]])) }
}

describe('StageMeter', () => {
  it('splits a datagram with every mark into stages', () => {
    expect(measure(ALL, MARKS)).toEqual({
      slowestStage: 'queue',
      stages: { backlog: 10000, stack: 10000, queue: 20000000, copy: 5000, total: 20025000 }
    })
  })

  it('reports stages that need a mark the datagram lacks as null, never 0', () => {
    expect(measure(ALL, [0, 2000000000, 0, 2005000000, 2005000100])).toEqual({
      slowestStage: 'copy',
      stages: { backlog: null, stack: null, queue: null, copy: 100, total: 5000100 }
    })
  })

  it('ends a stage at the next mark the plan sees when it does not see the stage\'s own end: no read, the queue runs to return', () => {
    expect(TRACEPOINT.measured).toEqual({ backlog: true, stack: true, queue: true, copy: false, total: true })
    const marks = [...MARKS.slice(0, 3), 0, MARKS[4]!]
    expect(measure(TRACEPOINT, marks)).toEqual({
      slowestStage: 'queue',
      stages: { backlog: 10000, stack: 10000, queue: 20005000, copy: null, total: 20025000 }
    })
    expect(measure(TRACEPOINT, [marks[0]!, marks[1]!, marks[1]! + 20_000_000, 0, marks[4]!]).slowestStage).toBe('stack')
  })

  it('starts the total at the datagram\'s first mark of its own', () => {
    expect(measure(ALL, [0, ...MARKS.slice(1)]).stages).toEqual({ backlog: null, stack: 10000, queue: 20000000, copy: 5000, total: 20015000 })
    expect(measure(ALL, [...MARKS.slice(0, 4), 0])).toEqual({
      slowestStage: 'queue',
      stages: { backlog: 10000, stack: 10000, queue: 20000000, copy: null, total: null }
    })
  })

  it('measures only what the seed\'s pair of marks bounds: the queue, to the return', () => {
    expect(SEED.measured).toEqual({ backlog: false, stack: false, queue: true, copy: false, total: true })
    expect(measure(SEED, [0, 0, MARKS[2]!, 0, MARKS[4]!])).toEqual({
      slowestStage: 'queue',
      stages: { backlog: null, stack: null, queue: 20005000, copy: null, total: 20005000 }
    })
  })

  it('measures nothing before a plan is known', () => {
    expect(measure(new StageMeter([]), MARKS).slowestStage).toBeNull()
    expect(Object.values(measure(new StageMeter([]), MARKS).stages).every((ns) => ns === null)).toBe(true)
  })
})

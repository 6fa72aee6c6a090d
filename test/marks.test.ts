import { describe, expect, it } from 'vitest'
import { MARK_NAMES, STAGE_NAMES, StageMeter } from '../src/marks.js'

const ALL = new StageMeter(MARK_NAMES)
const TRACEPOINT = new StageMeter(['arrive', 'enqueue', 'return'])

/** The fixture's IPv4 event: arrive, enqueue, read, return. */
const MARKS = [1000000000, 1000010000, 1020010000, 1020015000]

/** Every stage of a datagram by name, and its slowest part. */
function measure (meter: StageMeter, marks: number[]) {
  const ns: Array<number | null> = []
  const slowest = meter.measure(marks, ns)
  return { slowestStage: slowest < 0 ? null : STAGE_NAMES[slowest], stages: Object.fromEntries(STAGE_NAMES.map((name, i) => [name, ns[i]])) }
}

describe('StageMeter', () => {
  it('splits a datagram with every mark into stages', () => {
    expect(measure(ALL, MARKS)).toEqual({ slowestStage: 'queue', stages: { stack: 10000, queue: 20000000, copy: 5000, total: 20015000 } })
  })

  it('reports stages that need a mark the datagram lacks as null, never 0', () => {
    expect(measure(ALL, [2000000000, 0, 2005000000, 2005000100])).toEqual({
      slowestStage: 'copy',
      stages: { stack: null, queue: null, copy: 100, total: 5000100 }
    })
  })

  it('ends a stage at the next mark the plan sees when it does not see the stage\'s own end: no read, the queue runs to return', () => {
    expect(TRACEPOINT.measured).toEqual({ stack: true, queue: true, copy: false, total: true })
    const marks = [MARKS[0]!, MARKS[1]!, 0, MARKS[3]!]
    expect(measure(TRACEPOINT, marks)).toEqual({ slowestStage: 'queue', stages: { stack: 10000, queue: 20005000, copy: null, total: 20015000 } })
    expect(measure(TRACEPOINT, [marks[0]!, marks[0]! + 20_000_000, 0, marks[3]!]).slowestStage).toBe('stack')
  })

  it('starts the total at the datagram\'s first mark of its own', () => {
    expect(measure(ALL, [0, ...MARKS.slice(1)]).stages).toEqual({ stack: null, queue: 20000000, copy: 5000, total: 20005000 })
    expect(measure(ALL, [...MARKS.slice(0, 3), 0])).toEqual({ slowestStage: 'queue', stages: { stack: 10000, queue: 20000000, copy: null, total: null } })
  })

  it('measures nothing before a plan is known', () => {
    expect(measure(new StageMeter([]), MARKS)).toEqual({ slowestStage: null, stages: { stack: null, queue: null, copy: null, total: null } })
  })
})

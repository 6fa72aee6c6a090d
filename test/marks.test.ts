import { describe, expect, it } from 'vitest'
import { KIND_STAGES, MARK_NAMES, STAGE_NAMES, StageMeter, type EventKind, type MarkName } from '../src/marks.js'

const ALL = new StageMeter(MARK_NAMES)
const RECEIVE = new StageMeter(['rx', 'arrive', 'enqueue', 'read', 'return'])
const TRACEPOINT = new StageMeter(['rx', 'arrive', 'enqueue', 'return'])
const SEED = new StageMeter(['enqueue', 'return'])

/** A datagram's marks (0 where not seen), from those named. */
const marksOf = (named: Partial<Record<MarkName, number>>): number[] => MARK_NAMES.map((name) => named[name] ?? 0)

/** The fixture's IPv4 event: rx, arrive, enqueue, read, return. */
const RECEIVED = { rx: 999990000, arrive: 1000000000, enqueue: 1000010000, read: 1020010000, return: 1020015000 }

/** The stages of a datagram's event of `kind` by name, and its slowest part. */
function measure (meter: StageMeter, marks: number[], kind: EventKind = 'receive') {
  const ns: Array<number | null> = []
  const slowest = meter.measure(marks, ns, kind)
  return {
    slowestStage: slowest < 0 ? null : STAGE_NAMES[slowest],
    stages: Object.fromEntries(KIND_STAGES[kind].stages.map((i) => [STAGE_NAMES[i], ns[i]]))
  }
}

describe('StageMeter', () => {
  it('splits a datagram with every mark into stages', () => {
    expect(measure(RECEIVE, marksOf(RECEIVED))).toEqual({
      slowestStage: 'queue',
      stages: { backlog: 10000, stack: 10000, queue: 20000000, copy: 5000, total: 20025000 }
    })
  })

  it('reports stages that need a mark the datagram lacks as null, never 0', () => {
    expect(measure(RECEIVE, marksOf({ arrive: 2000000000, read: 2005000000, return: 2005000100 }))).toEqual({
      slowestStage: 'copy',
      stages: { backlog: null, stack: null, queue: null, copy: 100, total: 5000100 }
    })
  })

  it('ends a stage at the next mark the plan sees when it does not see the stage\'s own end: no read, the queue runs to return', () => {
    expect(TRACEPOINT.measured).toMatchObject({ backlog: true, stack: true, queue: true, copy: false, total: true, qdisc: false })
    const marks = marksOf({ ...RECEIVED, read: 0 })
    expect(measure(TRACEPOINT, marks)).toEqual({
      slowestStage: 'queue',
      stages: { backlog: 10000, stack: 10000, queue: 20005000, copy: null, total: 20025000 }
    })
    expect(measure(TRACEPOINT, marksOf({ ...RECEIVED, read: 0, enqueue: RECEIVED.arrive + 20_000_000 })).slowestStage).toBe('stack')
  })

  it('starts the total at the datagram\'s first mark of its own', () => {
    expect(measure(RECEIVE, marksOf({ ...RECEIVED, rx: 0 })).stages).toEqual({ backlog: null, stack: 10000, queue: 20000000, copy: 5000, total: 20015000 })
    expect(measure(RECEIVE, marksOf({ ...RECEIVED, return: 0 }))).toEqual({
      slowestStage: 'queue',
      stages: { backlog: 10000, stack: 10000, queue: 20000000, copy: null, total: null }
    })
  })

  it('measures only what the seed\'s pair of marks bounds: the queue, to the return', () => {
    expect(SEED.measured).toMatchObject({ backlog: false, stack: false, queue: true, copy: false, total: true })
    expect(measure(SEED, marksOf({ enqueue: RECEIVED.enqueue, return: RECEIVED.return }))).toEqual({
      slowestStage: 'queue',
      stages: { backlog: null, stack: null, queue: 20005000, copy: null, total: 20005000 }
    })
  })

  it('measures nothing before a plan is known', () => {
    expect(measure(new StageMeter([]), marksOf(RECEIVED)).slowestStage).toBeNull()
    expect(Object.values(measure(new StageMeter([]), marksOf(RECEIVED)).stages).every((ns) => ns === null)).toBe(true)
  })

  it('splits a datagram sent into its own stages, to the driver; its call is apart', () => {
    expect(measure(ALL, marksOf({ send: 1000, queued: 21000, xmitStart: 10021000, xmitDone: 10024000, sent: 31000 }), 'send')).toEqual({
      slowestStage: 'qdisc',
      stages: { sendStack: 20000, qdisc: 10000000, driver: 3000, sendTotal: 10023000, call: 30000 }
    })
  })

  it('splits a path from the sender\'s call to the reader\'s return, the wire from the driver to arrive, without the backlog', () => {
    const path = measure(ALL, marksOf({ send: 1000, queued: 21000, xmitStart: 41000, rx: 43000, xmitDone: 44000, arrive: 51000, enqueue: 61000, read: 5061000, return: 5066000, sent: 50000 }), 'path')
    expect(path).toEqual({
      slowestStage: 'queue',
      stages: { stack: 10000, queue: 5000000, copy: 5000, total: 5065000, sendStack: 20000, qdisc: 20000, driver: 3000, wire: 7000, call: 49000 }
    })
    const parts = ['sendStack', 'qdisc', 'driver', 'wire', 'stack', 'queue', 'copy'] as const
    expect(parts.reduce((sum, part) => sum + path.stages[part]!, 0)).toBe(path.stages.total)
  })
})

import { describe, expect, it } from 'vitest'
import { latencyOf, measuredStages, type Marks } from '../../src/probe/events.js'

const ALL = measuredStages(['arrive', 'enqueue', 'read', 'return'])

/** The marks of the fixture's IPv4 event. */
const MARKS: Marks = { arriveNs: 1000000000, enqueueNs: 1000010000, readNs: 1020010000, returnNs: 1020015000 }

describe('latencyOf', () => {
  it('splits a datagram with every mark into stages', () => {
    expect(latencyOf(MARKS, ALL)).toEqual({
      latencyNs: 20015000,
      slowestStage: 'queue',
      stages: { stackNs: 10000, queueNs: 20000000, copyNs: 5000, totalNs: 20015000 }
    })
  })

  it('reports stages that need an unseen mark as null, never 0', () => {
    expect(latencyOf({ arriveNs: 2000000000, enqueueNs: 0, readNs: 2005000000, returnNs: 2005000100 }, ALL)).toEqual({
      latencyNs: 5000100,
      slowestStage: 'copy',
      stages: { stackNs: null, queueNs: null, copyNs: 100, totalNs: 5000100 }
    })
  })

  it('reports copy as null, never 0, for a plan without a read mark of its own, and ignores it for slowestStage', () => {
    // The tracepoint plan stamps read at return: the queue runs to return, the copy is unknown.
    const tracepoint = measuredStages(['arrive', 'enqueue', 'return'])
    const marks = { ...MARKS, readNs: MARKS.returnNs }
    expect(tracepoint).toEqual({ stack: true, queue: true, copy: false, total: true })
    expect(latencyOf(marks, tracepoint)).toEqual({
      latencyNs: 20015000,
      slowestStage: 'queue',
      stages: { stackNs: 10000, queueNs: 20005000, copyNs: null, totalNs: 20015000 }
    })
    const stackBound = { ...marks, enqueueNs: marks.arriveNs + 20_000_000 }
    expect(latencyOf(stackBound, tracepoint).slowestStage).toBe('stack')
  })

  it('falls back to last seen minus first seen mark without arrive or return', () => {
    expect(latencyOf({ ...MARKS, arriveNs: 0, returnNs: 0 }, ALL)).toEqual({
      latencyNs: 20000000,
      slowestStage: 'queue',
      stages: { stackNs: null, queueNs: 20000000, copyNs: null, totalNs: null }
    })
  })
})

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { latencyOf, measuredStages, realtimeClock, toDropEvent, toLatencyEvent } from '../../src/probe/events.js'
import { RecordParser, type DropRecord, type EventRecord, type HelloRecord } from '../../src/probe/records.js'

const ALL = measuredStages(['arrive', 'enqueue', 'read', 'return'])
const [hello, ev4, ev6, drop] = new RecordParser().push(readFileSync(new URL('../fixtures/records.bin', import.meta.url))) as
  [HelloRecord, EventRecord, EventRecord, DropRecord]
const clock = realtimeClock(hello.realtimeOffsetNs)

describe('realtimeClock', () => {
  it('adds the offset exactly, to the nanosecond', () => {
    expect(clock(1020015000)).toBe('2025-11-24T16:00:01.143471789Z')
  })

  it('carries nanoseconds into seconds', () => {
    expect(realtimeClock(999_999_999n)(1)).toBe('1970-01-01T00:00:01.000000000Z')
  })

  it('handles a negative offset', () => {
    expect(realtimeClock(-1n)(1_000_000_000)).toBe('1970-01-01T00:00:00.999999999Z')
  })
})

describe('latencyOf', () => {
  it('splits a datagram with every mark into stages', () => {
    expect(latencyOf(ev4, ALL)).toEqual({
      latencyNs: 20015000,
      slowestStage: 'queue',
      stages: { stackNs: 10000, queueNs: 20000000, copyNs: 5000, totalNs: 20015000 }
    })
  })

  it('reports stages that need an unseen mark as null, never 0', () => {
    expect(latencyOf(ev6, ALL)).toEqual({
      latencyNs: 5000100,
      slowestStage: 'copy',
      stages: { stackNs: null, queueNs: null, copyNs: 100, totalNs: 5000100 }
    })
  })

  it('reports copy as null, never 0, for a plan without a read mark of its own, and ignores it for slowestStage', () => {
    // The tracepoint plan stamps read at return: the queue runs to return, the copy is unknown.
    const tracepoint = measuredStages(['arrive', 'enqueue', 'return'])
    const rec = { ...ev4, readNs: ev4.returnNs }
    expect(tracepoint).toEqual({ stack: true, queue: true, copy: false, total: true })
    expect(latencyOf(rec, tracepoint)).toEqual({
      latencyNs: 20015000,
      slowestStage: 'queue',
      stages: { stackNs: 10000, queueNs: 20005000, copyNs: null, totalNs: 20015000 }
    })
    const stackBound = { ...rec, enqueueNs: rec.arriveNs + 20_000_000 }
    expect(latencyOf(stackBound, tracepoint).slowestStage).toBe('stack')
  })

  it('falls back to last seen minus first seen mark without arrive or return', () => {
    expect(latencyOf({ ...ev4, arriveNs: 0, returnNs: 0 }, ALL)).toEqual({
      latencyNs: 20000000,
      slowestStage: 'queue',
      stages: { stackNs: null, queueNs: 20000000, copyNs: null, totalNs: null }
    })
  })
})

describe('event conversion', () => {
  it('turns an event record into a latency event', () => {
    expect(toLatencyEvent(ev4, 7, clock, ALL)).toEqual({
      seq: 7,
      type: 'latency',
      time: '2025-11-24T16:00:01.143471789Z',
      latencyNs: 20015000,
      slowestStage: 'queue',
      stages: { stackNs: 10000, queueNs: 20000000, copyNs: 5000, totalNs: 20015000 },
      family: 'ipv4',
      src: { address: '127.0.0.1', port: 40000 },
      dst: { address: '127.0.0.2', port: 9999 },
      len: 512,
      pid: 4242,
      tid: 4243,
      comm: 'receiver',
      cgroupId: '9007199254740993'
    })
  })

  it('times an event by its latest mark', () => {
    expect(toLatencyEvent({ ...ev4, returnNs: 0, readNs: 0 }, 1, clock, ALL).time).toBe('2025-11-24T16:00:01.123466789Z')
  })

  it('turns a drop record into a drop event', () => {
    expect(toDropEvent(drop, 8, clock)).toEqual({
      seq: 8,
      type: 'drop',
      time: '2025-11-24T16:00:03.123456789Z',
      reason: 'SOCKET_RCVBUFF',
      family: 'ipv4',
      src: { address: '10.0.0.1', port: 1234 },
      dst: { address: '10.0.0.2', port: 9999 },
      len: 1400
    })
  })
})

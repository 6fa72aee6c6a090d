import { describe, expect, it } from 'vitest'
import { ByteWriter } from '../../src/sessions/byte-writer.js'
import { RealtimeClock } from '../../src/sessions/realtime-clock.js'

/** The realtime - monotonic offset of the golden hello (test/fixtures/records.bin). */
const GOLDEN_OFFSET_NS = 1_764_000_000_123_456_789n

describe('RealtimeClock', () => {
  /** The clock's text and what it writes, which must agree. */
  function both (offsetNs: bigint, monotonicNs: number): string {
    const realtime = new RealtimeClock(offsetNs)
    const out = new ByteWriter(4)
    realtime.write(out, monotonicNs)
    const written = out.take().toString()
    expect(new RealtimeClock(offsetNs).iso(monotonicNs)).toBe(written)
    return written
  }

  it('adds the offset exactly, to the nanosecond', () => {
    expect(both(GOLDEN_OFFSET_NS, 1020015000)).toBe('2025-11-24T16:00:01.143471789Z')
  })

  it('carries nanoseconds into seconds', () => {
    expect(both(999_999_999n, 1)).toBe('1970-01-01T00:00:01.000000000Z')
  })

  it('handles a negative offset', () => {
    expect(both(-1n, 1_000_000_000)).toBe('1970-01-01T00:00:00.999999999Z')
  })

  it('stays exact across seconds, forwards and backwards, with its one-second cache', () => {
    const tick = new RealtimeClock(0n)
    const out = new ByteWriter()
    const times = [0, 999_999_999, 1_000_000_000, 59_000_000_001, 5, 86_400_000_000_000, 1_999_999_999]
    for (const ns of times) {
      const expected = `${new Date(Math.floor(ns / 1e6)).toISOString().slice(0, 19)}.${String(ns % 1e9).padStart(9, '0')}Z`
      expect(tick.iso(ns)).toBe(expected)
      tick.write(out, ns)
      expect(out.take().toString()).toBe(expected)
    }
  })
})

import { describe, expect, it } from 'vitest'
import { stageHistogram } from '../../src/sessions/histogram.js'

const slots = (counts: Record<number, number>) => Array.from({ length: 40 }, (_, i) => counts[i] ?? 0)

describe('stageHistogram', () => {
  it('lists log2 buckets from the lowest to the highest non-empty one, with their bounds', () => {
    const histogram = stageHistogram(slots({ 10: 5, 12: 3 }), true)
    expect(histogram.count).toBe(8)
    expect(histogram.buckets).toEqual([
      { fromNs: 512, toNs: 1024, count: 5 },
      { fromNs: 1024, toNs: 2048, count: 0 },
      { fromNs: 2048, toNs: 4096, count: 3 }
    ])
  })

  it('gives each percentile as the upper bound of the bucket holding it', () => {
    // 90 datagrams in [2, 4) µs, 9 in [1, 2) ms, 1 in [33, 67) ms
    const histogram = stageHistogram(slots({ 12: 90, 21: 9, 26: 1 }), true)
    expect(histogram).toMatchObject({ count: 100, p50Ns: 4096, p90Ns: 4096, p99Ns: 2 ** 21, maxNs: 2 ** 26 })
  })

  it('puts a duration of 0 in [0, 1) and the open last bucket at its lower bound', () => {
    const histogram = stageHistogram(slots({ 0: 1, 39: 1 }), true)
    expect(histogram.buckets[0]).toEqual({ fromNs: 0, toNs: 1, count: 1 })
    expect(histogram.buckets.at(-1)).toEqual({ fromNs: 2 ** 38, toNs: null, count: 1 })
    expect(histogram).toMatchObject({ p50Ns: 1, maxNs: 2 ** 38 })
  })

  it('has no data without datagrams, or for a stage the plan does not measure', () => {
    const empty = { count: 0, buckets: [], p50Ns: null, p90Ns: null, p99Ns: null, maxNs: null }
    expect(stageHistogram(slots({}), true)).toEqual({ measured: true, ...empty })
    expect(stageHistogram(slots({ 3: 7 }), false)).toEqual({ measured: false, ...empty })
  })
})

import type { StageHistogram } from '../schemas/histogram.js'

/** Slot i of the kernel's histogram (bpf/udplat.h) holds 2^(i-1) <= d < 2^i ns; slot 0 holds 0; the last has no upper bound. */
function slotBounds (slot: number, slots: number): { fromNs: number, toNs: number | null } {
  return { fromNs: slot === 0 ? 0 : 2 ** (slot - 1), toNs: slot === slots - 1 ? null : 2 ** slot }
}

/** Buckets and percentiles of one stage from its cumulative log2 slots. */
export function stageHistogram (slots: readonly number[], measured: boolean): StageHistogram {
  const count = measured ? slots.reduce((sum, n) => sum + n, 0) : 0
  if (count === 0) return { measured, count: 0, buckets: [], p50Ns: null, p90Ns: null, p99Ns: null, maxNs: null }
  const first = slots.findIndex((n) => n > 0)
  const last = slots.findLastIndex((n) => n > 0)
  const buckets = slots.slice(first, last + 1).map((n, i) => ({ ...slotBounds(first + i, slots.length), count: n }))
  const bound = ({ fromNs, toNs }: { fromNs: number, toNs: number | null }) => toNs ?? fromNs
  const percentile = (p: number) => {
    const rank = Math.ceil((p / 100) * count)
    let seen = 0
    return bound(buckets.find((bucket) => (seen += bucket.count) >= rank) ?? buckets[buckets.length - 1]!)
  }
  return { measured, count, buckets, p50Ns: percentile(50), p90Ns: percentile(90), p99Ns: percentile(99), maxNs: bound(buckets[buckets.length - 1]!) }
}

import { Type, type Static } from 'typebox'
import { READER_STATES, STAGE_NAMES, type ReaderStateName, type StageName } from '../marks.js'
import { DateTime, Nullable } from './common.js'

const Ns = (description: string) => Nullable(Type.Integer({ minimum: 0, description }))

const Bucket = Type.Object({
  fromNs: Type.Integer({ minimum: 0, description: 'Smallest duration in the bucket' }),
  toNs: Nullable(Type.Integer({ minimum: 1, description: 'Durations in the bucket are below this; null for the last, open bucket' })),
  count: Type.Integer({ minimum: 0 })
}, { additionalProperties: false })

const PERCENTILE = 'the upper bound of the log2 bucket holding it (the lower bound for the last, open bucket); null without data'

export const StageHistogram = Type.Object({
  measured: Type.Boolean({ description: 'False when the session does not take the marks this stage needs (without `read`, no copy); such a stage has no data' }),
  count: Type.Integer({ minimum: 0, description: 'Datagrams in the histogram' }),
  buckets: Type.Array(Bucket, { description: 'log2 buckets from the lowest to the highest non-empty one' }),
  p50Ns: Ns(`Median: ${PERCENTILE}`),
  p90Ns: Ns(`90th percentile: ${PERCENTILE}`),
  p99Ns: Ns(`99th percentile: ${PERCENTILE}`),
  maxNs: Ns(`Largest duration: ${PERCENTILE}`)
}, { additionalProperties: false })

export type StageHistogram = Static<typeof StageHistogram>

export const Histogram = Type.Object({
  updatedAt: Nullable({ ...DateTime, description: 'When the loader last summed the kernel\'s histograms (about every second); null before the first time' }),
  matched: Type.Integer({ minimum: 0, description: 'The session\'s matched count at that moment: each measured stage counts every matched datagram whose marks it needs' }),
  stages: Type.Object(
    Object.fromEntries(STAGE_NAMES.map((name) => [name, StageHistogram])) as Record<StageName, typeof StageHistogram>,
    { additionalProperties: false, description: 'Over every matching datagram, not only the slow ones' }),
  reader: Nullable(Type.Object(
    Object.fromEntries(READER_STATES.map(({ name }) => [name, StageHistogram])) as Record<ReaderStateName, typeof StageHistogram>,
    {
      additionalProperties: false,
      description: 'What the reader did while each matching datagram waited in the queue, per state, over every datagram whose reader\'s history covered its wait; null when the session does not take it (`reader: false`)'
    }))
}, { additionalProperties: false })

export type Histogram = Static<typeof Histogram>

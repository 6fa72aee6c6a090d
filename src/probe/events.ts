import type { DropEvent, LatencyEvent } from '../schemas/event.js'
import type { DropRecord, EventRecord, MarkName, StageName } from './records.js'

const NS_PER_S = 1_000_000_000

/** Turns CLOCK_MONOTONIC ns into RFC 3339 wall-clock time, with the offset from the loader's hello. */
export function realtimeClock (realtimeOffsetNs: bigint): (monotonicNs: number) => string {
  const ns = BigInt(NS_PER_S)
  // Floor division, so that the nanosecond part stays in [0, 1e9) for negative offsets too.
  const offsetS = Number(realtimeOffsetNs / ns) - (realtimeOffsetNs % ns < 0n ? 1 : 0)
  const offsetNs = Number(realtimeOffsetNs - BigInt(offsetS) * ns)
  return (monotonicNs) => {
    const markS = Math.floor(monotonicNs / NS_PER_S)
    const sumNs = monotonicNs - markS * NS_PER_S + offsetNs
    const carry = sumNs >= NS_PER_S ? 1 : 0
    const seconds = offsetS + markS + carry
    const fraction = String(sumNs - carry * NS_PER_S).padStart(9, '0')
    return `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${fraction}Z`
  }
}

type Clock = ReturnType<typeof realtimeClock>

/** Which stages a plan measures, from the marks its hello says it sees as moments of their own. */
export type MeasuredStages = Record<StageName, boolean>

export function measuredStages (marks: readonly MarkName[]): MeasuredStages {
  const sees = (mark: MarkName) => marks.includes(mark)
  return {
    stack: sees('arrive') && sees('enqueue'),
    // A plan without a read moment of its own stamps read at return: the queue then runs to return.
    queue: sees('enqueue') && (sees('read') || sees('return')),
    copy: sees('read') && sees('return'),
    total: sees('arrive') && sees('return')
  }
}

/** The mark differences of one datagram; null where the plan does not measure the stage or a mark is 0. */
export function latencyOf (rec: EventRecord, measured: MeasuredStages): Pick<LatencyEvent, 'latencyNs' | 'slowestStage' | 'stages'> {
  const span = (stage: StageName, from: number, to: number) => (measured[stage] && from !== 0 && to !== 0 ? Math.max(0, to - from) : null)
  const stages = {
    stackNs: span('stack', rec.arriveNs, rec.enqueueNs),
    queueNs: span('queue', rec.enqueueNs, rec.readNs),
    copyNs: span('copy', rec.readNs, rec.returnNs),
    totalNs: span('total', rec.arriveNs, rec.returnNs)
  }
  const seen = [rec.arriveNs, rec.enqueueNs, rec.readNs, rec.returnNs].filter((mark) => mark !== 0)
  const latencyNs = stages.totalNs ?? (seen.length > 0 ? Math.max(...seen) - Math.min(...seen) : 0)
  let slowestStage: LatencyEvent['slowestStage'] = null
  let slowestNs = -1
  for (const [stage, ns] of [['stack', stages.stackNs], ['queue', stages.queueNs], ['copy', stages.copyNs]] as const) {
    if (ns !== null && ns > slowestNs) [slowestStage, slowestNs] = [stage, ns]
  }
  return { latencyNs, slowestStage, stages }
}

/** The latest mark the plan saw, the moment the datagram's journey ended. */
function lastMarkNs (rec: EventRecord): number {
  return rec.returnNs || rec.readNs || rec.enqueueNs || rec.arriveNs
}

export function toLatencyEvent (rec: EventRecord, seq: number, clock: Clock, measured: MeasuredStages): LatencyEvent {
  return {
    seq,
    type: 'latency',
    time: clock(lastMarkNs(rec)),
    ...latencyOf(rec, measured),
    family: rec.family,
    src: { address: rec.saddr, port: rec.sport },
    dst: { address: rec.daddr, port: rec.dport },
    len: rec.len,
    pid: rec.pid,
    tid: rec.tid,
    comm: rec.comm,
    cgroupId: rec.cgroupId
  }
}

export function toDropEvent (rec: DropRecord, seq: number, clock: Clock): DropEvent {
  return {
    seq,
    type: 'drop',
    time: clock(rec.timeNs),
    reason: rec.reasonName,
    family: rec.family,
    src: { address: rec.saddr, port: rec.sport },
    dst: { address: rec.daddr, port: rec.dport },
    len: rec.len
  }
}

import type { LatencyEvent } from '../schemas/event.js'
import type { MarkName, StageName } from './records.js'

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

/** The four marks of one datagram, CLOCK_MONOTONIC ns, 0 where the plan did not see them. */
export interface Marks {
  arriveNs: number
  enqueueNs: number
  readNs: number
  returnNs: number
}

/** The mark differences of one datagram; null where the plan does not measure the stage or a mark is 0. */
export function latencyOf (marks: Marks, measured: MeasuredStages): Pick<LatencyEvent, 'latencyNs' | 'slowestStage' | 'stages'> {
  const { arriveNs, enqueueNs, readNs, returnNs } = marks
  const span = (stage: StageName, from: number, to: number) => (measured[stage] && from !== 0 && to !== 0 ? Math.max(0, to - from) : null)
  const stages = {
    stackNs: span('stack', arriveNs, enqueueNs),
    queueNs: span('queue', enqueueNs, readNs),
    copyNs: span('copy', readNs, returnNs),
    totalNs: span('total', arriveNs, returnNs)
  }
  const seen = [arriveNs, enqueueNs, readNs, returnNs].filter((mark) => mark !== 0)
  const latencyNs = stages.totalNs ?? (seen.length > 0 ? Math.max(...seen) - Math.min(...seen) : 0)
  let slowestStage: LatencyEvent['slowestStage'] = null
  let slowestNs = -1
  for (const [stage, ns] of [['stack', stages.stackNs], ['queue', stages.queueNs], ['copy', stages.copyNs]] as const) {
    if (ns !== null && ns > slowestNs) [slowestStage, slowestNs] = [stage, ns]
  }
  return { latencyNs, slowestStage, stages }
}

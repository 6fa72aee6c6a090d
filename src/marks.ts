/**
 * The marks of a datagram's path and the stages between them: the one table that the record
 * parser, the event formatter, the event and histogram schemas (hence the OpenAPI document) and
 * the metrics are built from. It mirrors UDPLAT_MARKS and UDPLAT_STAGES of bpf/udplat.h row for
 * row, and stageNs() mirrors bpf/stages.h; test/fixtures/records.bin, written by the C side,
 * pins the two.
 */

export const MARKS = [
  { name: 'arrive', description: 'the skb enters the IP stack' },
  { name: 'enqueue', description: 'queued on the socket' },
  { name: 'read', description: 'the application dequeued it' },
  { name: 'return', description: 'recvmsg returned' }
] as const

/**
 * A `part` is one piece of the path (`slowestStage` names the longest); it is unknown when its
 * `from` mark is not one the plan sees. A `sum` spans several and starts at the first mark the
 * plan sees, and the datagram has, from `from` on. Either ends at `to`, or, when the plan does
 * not see `to`, at the next mark it sees: the parts of a path always add up to its total.
 */
export const STAGES = [
  { name: 'stack', from: 'arrive', to: 'enqueue', kind: 'part' },
  { name: 'queue', from: 'enqueue', to: 'read', kind: 'part' },
  { name: 'copy', from: 'read', to: 'return', kind: 'part' },
  { name: 'total', from: 'arrive', to: 'return', kind: 'sum' }
] as const

export type MarkName = (typeof MARKS)[number]['name']
export type Stage = (typeof STAGES)[number]
export type StageName = Stage['name']
/** The stages `slowestStage` ranges over. */
export type PartName = Extract<Stage, { kind: 'part' }>['name']

export const MARK_NAMES: readonly MarkName[] = MARKS.map(({ name }) => name)
export const STAGE_NAMES: readonly StageName[] = STAGES.map(({ name }) => name)
export const PART_NAMES = STAGES.flatMap((stage) => stage.kind === 'part' ? [stage.name] : []) as readonly PartName[]

const markIndex = (name: MarkName): number => MARK_NAMES.indexOf(name)

/** The marks of a bit mask (bit i: MARKS[i]), as a hello record carries them. */
export function marksOfBits (bits: number): MarkName[] {
  return MARK_NAMES.filter((_, i) => (bits & (1 << i)) !== 0)
}

/** A stage resolved for the marks a plan sees: which marks bound it, or null when the plan cannot measure it. */
export interface StagePlan {
  name: StageName
  kind: Stage['kind']
  /** The start mark's index (for a sum, the first the plan sees from `from` on; a datagram lacking it starts later). */
  start: number
  /** The end mark's index. */
  end: number
}

function firstSeen (seen: readonly boolean[], from: number): number {
  const at = seen.findIndex((isSeen, i) => i >= from && isSeen)
  return at < 0 ? seen.length : at
}

/** Every stage, resolved for a plan that sees `marks`; null where the plan cannot measure the stage. */
export function planStages (marks: readonly MarkName[]): Array<StagePlan | null> {
  const seen = MARK_NAMES.map((name) => marks.includes(name))
  return STAGES.map(({ name, kind, from, to }) => {
    const start = kind === 'sum' ? firstSeen(seen, markIndex(from)) : markIndex(from)
    const end = firstSeen(seen, markIndex(to))
    return start < end && end < seen.length && seen[start] === true ? { name, kind, start, end } : null
  })
}

/** The duration of a stage from one datagram's marks (ns, 0 where not seen); null when unknown (bpf/stages.h stage_ns). */
export function stageNs (stage: StagePlan | null, marks: ArrayLike<number>, seen: readonly boolean[]): number | null {
  if (stage === null) return null
  let start = stage.start
  // A sum starts at the datagram's first mark of its own.
  if (stage.kind === 'sum') while (start < stage.end && (seen[start] !== true || marks[start] === 0)) start++
  const from = marks[start] ?? 0
  const to = marks[stage.end] ?? 0
  return start < stage.end && from !== 0 && to !== 0 && to >= from ? to - from : null
}

import { ValidationFailed } from '../errors.js'
import { KIND_STAGES, MARK_NAMES, MARKS, STAGES, StageMeter, type Direction, type EventKind, type MarkName, type Stage } from '../marks.js'

type Side = (typeof MARKS)[number]['side']

/** The kinds of event a session of each direction gets, and the sides of the path a datagram of each kind is marked on. */
const KINDS: Record<Direction, readonly EventKind[]> = { receive: ['receive'], send: ['send'], both: ['receive', 'send', 'path'] }
const SIDES: Record<EventKind, readonly Side[]> = { receive: ['receive'], send: ['send'], path: ['send', 'receive'] }
const DATAGRAMS: Record<EventKind, string> = {
  receive: 'a datagram received (latency events)',
  send: 'a datagram sent (send events)',
  path: 'a datagram sent and received on this host (path events)'
}

const index = (name: MarkName) => MARK_NAMES.indexOf(name)

/** What `taken` lacks for `stage`, by the rule of StageMeter: the marks that may end it, and one to start it from. */
function lacks ({ from, to, kind }: Stage, taken: readonly MarkName[]): string {
  const ends = MARK_NAMES.filter((name, i) => i >= index(to) && MARKS[i]!.side === MARKS[index(to)]!.side)
  const end = ends.find((name) => taken.includes(name)) ?? ends[0]!
  const missing = []
  if (kind === 'part' && !taken.includes(from)) missing.push(from)
  if (!taken.includes(end)) missing.push(ends.length === 1 ? end : `one of ${ends.join(', ')}`)
  if (kind === 'sum' && !taken.some((name) => index(name) >= index(from) && index(name) < index(end))) missing.push(`a mark before ${end}`)
  return missing.join(' and ')
}

/**
 * Refuses, before any loader runs, marks that measure no stage of some kind of event the session would get: every
 * such event would have each stage null and a latency of 0. A datagram of a kind is marked on its sides only, and
 * becomes an event when the session takes a mark there; StageMeter (the rule of bpf/stages.h) says what it measures.
 * Marks the plan does not see, or on a side the direction does not trace, are the loader's to refuse.
 */
export function checkMarks (marks: readonly MarkName[] | undefined, direction: Direction): void {
  if (marks === undefined) return
  for (const kind of KINDS[direction]) {
    const taken = marks.filter((name) => SIDES[kind].includes(MARKS[index(name)]!.side))
    if (!SIDES[kind].every((side) => taken.some((name) => MARKS[index(name)]!.side === side))) continue
    const { measured } = new StageMeter(taken)
    const stages = KIND_STAGES[kind].stages.map((i) => STAGES[i]!)
    if (stages.some(({ name }) => measured[name])) continue
    throw new ValidationFailed(`body/marks: ${taken.join(', ')} ${taken.length === 1 ? 'measures' : 'measure'} no stage of ${DATAGRAMS[kind]}; a stage needs a mark at each end: ` +
      stages.map((stage) => `${stage.name} lacks ${lacks(stage, taken)}`).join('; '))
  }
}

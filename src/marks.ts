/**
 * The marks of a datagram's path and the stages between them: the one table that the record
 * parser, the event formatter, the event and histogram schemas (hence the OpenAPI document) and
 * the metrics are built from. It mirrors UDPLAT_MARKS and UDPLAT_STAGES of bpf/udplat.h row for
 * row, and stageNs() mirrors bpf/stages.h; test/fixtures/records.bin, written by the C side,
 * pins the two.
 */

export const MARKS = [
  { name: 'send', side: 'send', description: 'the application called sendmsg, sendto or sendmmsg' },
  { name: 'queued', side: 'send', description: 'it entered the device layer (net_dev_queue)' },
  { name: 'xmitStart', side: 'send', description: 'the qdisc handed it to the driver (net_dev_start_xmit)' },
  { name: 'xmitDone', side: 'send', description: 'the driver took it (net_dev_xmit)' },
  { name: 'rx', side: 'receive', description: 'the device handed it to the stack (netif_rx, or a NAPI driver\'s receive)' },
  { name: 'arrive', side: 'receive', description: 'the skb enters the IP stack (netif_receive_skb), out of a CPU\'s backlog or GRO' },
  { name: 'enqueue', side: 'receive', description: 'queued on the socket' },
  { name: 'read', side: 'receive', description: 'the application dequeued it' },
  { name: 'return', side: 'receive', description: 'recvmsg returned' },
  { name: 'sent', side: 'send', description: 'the sender\'s call returned' }
] as const

/**
 * The kinds of event, as EVENT_* bits of bpf/udplat.h number them (bit i: EVENT_KINDS[i]): a datagram received,
 * one sent, or one sent and received on this host (a path). `type` is the event's name in the API and on SSE.
 */
export const EVENT_KINDS = [
  { name: 'receive', type: 'latency' },
  { name: 'send', type: 'send' },
  { name: 'path', type: 'path' }
] as const

export type EventKind = (typeof EVENT_KINDS)[number]['name']
export type EventTypeName = (typeof EVENT_KINDS)[number]['type']

/** Which datagrams a session traces; `both` also gives one path event for a datagram sent and received on this host. */
export const DIRECTIONS = ['receive', 'send', 'both'] as const
export type Direction = (typeof DIRECTIONS)[number]

/**
 * A `part` is one piece of the path (`slowestStage` names the longest); it is unknown when its
 * `from` mark is not one the plan sees. A `sum` spans several and starts at the first mark the
 * plan sees, and the datagram has, from `from` on. Either ends at `to`, or, when the plan does
 * not see `to`, at the next mark it sees: the parts of a path always add up to its total.
 */
export const STAGES = [
  { name: 'backlog', from: 'rx', to: 'arrive', kind: 'part', events: ['receive'] },
  { name: 'stack', from: 'arrive', to: 'enqueue', kind: 'part', events: ['receive', 'path'] },
  { name: 'queue', from: 'enqueue', to: 'read', kind: 'part', events: ['receive', 'path'] },
  { name: 'copy', from: 'read', to: 'return', kind: 'part', events: ['receive', 'path'] },
  { name: 'total', from: 'send', to: 'return', kind: 'sum', events: ['receive', 'path'] },
  { name: 'sendStack', from: 'send', to: 'queued', kind: 'part', events: ['send', 'path'] },
  { name: 'qdisc', from: 'queued', to: 'xmitStart', kind: 'part', events: ['send', 'path'] },
  { name: 'driver', from: 'xmitStart', to: 'xmitDone', kind: 'part', events: ['send', 'path'] },
  { name: 'sendTotal', from: 'send', to: 'xmitDone', kind: 'sum', events: ['send'] },
  { name: 'wire', from: 'xmitDone', to: 'arrive', kind: 'part', events: ['path'] },
  { name: 'call', from: 'send', to: 'sent', kind: 'sum', events: ['send', 'path'] }
] as const

/** By kind of event: its stages (indices into STAGES), the one its latency and threshold are, and its parts. */
export const KIND_STAGES: Readonly<Record<EventKind, { stages: readonly number[], total: number }>> = {
  receive: kindStages('receive', 'total'),
  send: kindStages('send', 'sendTotal'),
  path: kindStages('path', 'total')
}

/** The stages of an event of `kind` in the order of its path: its parts by their first mark, then its sums. */
function kindStages (kind: EventKind, total: string): { stages: number[], total: number } {
  const order = (i: number): number => STAGES[i]!.kind === 'sum' ? MARKS.length + i : MARKS.findIndex(({ name }) => name === STAGES[i]!.from)
  return {
    stages: STAGES.flatMap((stage, i) => (stage.events as readonly string[]).includes(kind) ? [i] : []).sort((a, b) => order(a) - order(b)),
    total: STAGES.findIndex(({ name }) => name === total)
  }
}

/**
 * What the thread that read a datagram was doing over its queue interval [enqueue, read]: UDPLAT_READER_STATES
 * of bpf/udplat.h, row for row. A datagram's verdict is its longest state, or `unknown` when the reader's history
 * does not reach back to enqueue.
 */
export const READER_STATES = [
  { name: 'onCpu', verdict: 'busy', description: 'running: the application was busy and had not asked yet' },
  { name: 'runqueue', verdict: 'runqueue', description: 'runnable but not running: woken and waiting for a CPU, or preempted' },
  { name: 'offCpu', verdict: 'blocked', description: 'not runnable: asleep on something other than this socket (a sleep, a lock, another descriptor, the disk)' }
] as const

export type ReaderStateName = (typeof READER_STATES)[number]['name']
export type Verdict = (typeof READER_STATES)[number]['verdict'] | 'unknown'
export const READER_STATE_NAMES: readonly ReaderStateName[] = READER_STATES.map(({ name }) => name)
export const VERDICTS: readonly Verdict[] = [...READER_STATES.map(({ verdict }) => verdict), 'unknown']

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

/** A stage resolved for the marks a plan sees: the marks that bound it. */
interface StagePlan {
  kind: Stage['kind']
  /** The start mark's index (for a sum, the first the plan sees from `from` on; a datagram lacking it starts later). */
  start: number
  /** The end mark's index. */
  end: number
}

/** The index of the first mark from `from` on that `seen` holds, or MARKS.length. */
function firstSeen (seen: readonly boolean[], from: number): number {
  const at = seen.findIndex((isSeen, i) => i >= from && isSeen)
  return at < 0 ? seen.length : at
}

/** The first mark seen from `to` on, on `to`'s own side (a send session's `sent` never ends a receive stage). */
function firstSeenOnSide (seen: readonly boolean[], to: number): number {
  const side = MARKS[to]!.side
  return firstSeen(seen.map((isSeen, i) => isSeen && MARKS[i]!.side === side), to)
}

/**
 * Measures the stages of datagrams for a plan that sees `marks`, by the rule of bpf/stages.h. A stage the
 * plan cannot measure, or whose marks a datagram lacks, is null, never 0.
 */
export class StageMeter {
  readonly #seen: readonly boolean[]
  readonly #plans: ReadonlyArray<StagePlan | null>
  /** Whether the plan measures each stage. */
  readonly measured: Readonly<Record<StageName, boolean>>

  constructor (marks: readonly MarkName[]) {
    const seen = MARK_NAMES.map((name) => marks.includes(name))
    this.#seen = seen
    this.#plans = STAGES.map(({ kind, from, to }) => {
      const start = kind === 'sum' ? firstSeen(seen, markIndex(from)) : markIndex(from)
      const end = firstSeenOnSide(seen, markIndex(to))
      return start < end && end < seen.length && seen[start] === true ? { kind, start, end } : null
    })
    this.measured = Object.fromEntries(STAGES.map(({ name }, i) => [name, this.#plans[i] !== null])) as Record<StageName, boolean>
  }

  /** Stage `index` (of STAGES) of a datagram whose marks are `marks` (ns, 0 where not seen); null when unknown. */
  stageNs (index: number, marks: ArrayLike<number>): number | null {
    const plan = this.#plans[index]
    if (plan === undefined || plan === null) return null
    let start = plan.start
    // A sum starts at the datagram's first mark of its own.
    if (plan.kind === 'sum') while (start < plan.end && (this.#seen[start] !== true || marks[start] === 0)) start++
    const from = marks[start] ?? 0
    const to = marks[plan.end] ?? 0
    return start < plan.end && from !== 0 && to !== 0 && to >= from ? to - from : null
  }

  /**
   * The stages of a datagram's event of `kind` into `ns` (STAGES order; the others are left as they were);
   * returns the index of its longest part, or -1 when none is known.
   */
  measure (marks: ArrayLike<number>, ns: Array<number | null>, kind: EventKind = 'receive'): number {
    let slowest = -1
    for (const i of KIND_STAGES[kind].stages) {
      const value = ns[i] = this.stageNs(i, marks)
      if (value !== null && STAGES[i]!.kind === 'part' && (slowest < 0 || value > ns[slowest]!)) slowest = i
    }
    return slowest
  }
}

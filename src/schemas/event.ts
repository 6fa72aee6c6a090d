import { Type, type Static, type TInteger, type TNull, type TUnion } from 'typebox'
import { KIND_STAGES, READER_STATES, STAGES, VERDICTS, type EventKind, type ReaderStateName, type StageName } from '../marks.js'
import { DateTime, Nullable, ref } from './common.js'
import { Family, SessionState } from './session.js'

const Endpoint = Type.Object({
  address: Type.String({ description: 'IPv4 dotted quad or IPv6 text form' }),
  port: Type.Integer({ minimum: 0, maximum: 65535 })
}, { additionalProperties: false })

/** A task, as the scheduler knew it. */
const Task = (description: string) => Type.Object({
  pid: Type.Integer({ minimum: 1, description: 'Its process id (tgid)' }),
  comm: Type.String({ description: 'Its name' })
}, { additionalProperties: false, description })

const Seq = Type.Integer({ minimum: 1, description: 'Per-session sequence number, from 1, never reused' })
const Time = { ...DateTime, description: 'When the datagram was last seen (RFC 3339, nanoseconds)' }

/** `stages` of an event of `kind`: each of its stages' duration, `<stage>Ns`, from the table of stages (src/marks.ts). */
const Stages = (kind: EventKind) => Type.Object(Object.fromEntries(KIND_STAGES[kind].stages.map((i) => STAGES[i]!).map(({ name, from, to, kind: stageKind }) => [
  `${name}Ns`,
  Nullable(Type.Integer({
    minimum: 0,
    description: `${to} - ${from}${stageKind === 'sum' ? ' (or the first mark after it the datagram has)' : ''}; null when the session does not take a needed mark, or the datagram did not meet it`
  }))
])) as { [Name in StageName as `${Name}Ns`]?: TUnion<[TInteger, TNull]> }, { additionalProperties: false })

/** The parts of an event of `kind`, which `slowestStage` ranges over. */
const Parts = (kind: EventKind) => Type.Enum(KIND_STAGES[kind].stages.flatMap((i) => STAGES[i]!.kind === 'part' ? [STAGES[i]!.name] : []))

const Softirq = Nullable(Type.Object({
  cpu: Type.Integer({ minimum: 0, description: 'The CPU whose NET_RX softirq took the datagram out of the backlog (or GRO) into the IP stack' }),
  inKsoftirqd: Type.Boolean({ description: 'NET_RX ran in ksoftirqd, a thread that waits for the CPU like any other, rather than inline after an interrupt or at the end of a bottom-half section' }),
  waitedBehind: Nullable(Task('The task that held that CPU longest while the datagram waited in its backlog; named when backlogNs is a tenth of totalNs or more, else null'))
}, {
  additionalProperties: false,
  description: 'How the datagram waited in a CPU\'s backlog; null when the session does not take the arrive mark'
}))

const Reader = Nullable(Type.Object({
  verdict: Type.Enum(VERDICTS, { description: 'The longest of the three; unknown when the reader\'s history did not reach back to enqueue (its first read, or too many changes since)' }),
  ...Object.fromEntries(READER_STATES.map(({ name, description }) => [
    `${name}Ns`,
    Nullable(Type.Integer({ minimum: 0, description: `Over [enqueue, read]: ${description}; null when the verdict is unknown` }))
  ])) as { [Name in ReaderStateName as `${Name}Ns`]: TUnion<[TInteger, TNull]> },
  waitedBehind: Nullable(Task('The task that held the reader\'s CPU longest while the reader waited for it; named when runqueueNs is a tenth of the interval or more, else null'))
}, {
  additionalProperties: false,
  description: 'What the thread that read the datagram did while it waited in the queue; their sum is queueNs. Null when the session does not take it'
}))

const Sender = Type.Object({
  pid: Type.Integer({ minimum: 1, description: 'Its process id (tgid)' }),
  tid: Type.Integer({ minimum: 1 }),
  comm: Type.String({ description: 'Its thread\'s name' })
}, { additionalProperties: false, description: 'The task that sent the datagram: in whose context it was queued' })

/** What every kind of event says of its datagram, in this order: the formatter writes them so. */
const datagramFields = (kind: EventKind, type: string, who: string) => ({
  seq: Seq,
  type: Type.Literal(type),
  time: Time,
  latencyNs: Type.Integer({ minimum: 0, description: `${STAGES[KIND_STAGES[kind].total]!.name}Ns when known, else last seen mark minus first seen mark; the session's threshold applies to it` }),
  slowestStage: Nullable(Parts(kind)),
  stages: Stages(kind),
  family: Family,
  src: Endpoint,
  dst: Endpoint,
  len: Type.Integer({ minimum: 0, description: 'UDP payload bytes' }),
  pid: Type.Integer({ description: `${who} tgid` }),
  tid: Type.Integer(),
  comm: Type.String()
})

const CgroupId = (who: string) => Type.String({ pattern: '^[0-9]+$', description: `${who} cgroup v2 id, exact, in decimal` })

/** A datagram received: from rx (or the first mark the session takes) to the reader's return. */
export const LatencyEvent = Type.Object({
  ...datagramFields('receive', 'latency', 'Reader'),
  softirq: Softirq,
  reader: Reader,
  cgroupId: CgroupId('Reader')
}, { $id: 'LatencyEvent', additionalProperties: false })

/** A datagram sent: from the application's call to the driver (sessions of direction send or both). */
export const SendEvent = Type.Object({
  ...datagramFields('send', 'send', 'Sender'),
  cgroupId: CgroupId('Sender')
}, { $id: 'SendEvent', additionalProperties: false })

/** A datagram sent and received on this host: the sender's call to the reader's return (sessions of direction both). */
export const PathEvent = Type.Object({
  ...datagramFields('path', 'path', 'Reader'),
  softirq: Softirq,
  reader: Reader,
  sender: Sender,
  cgroupId: CgroupId('Reader')
}, { $id: 'PathEvent', additionalProperties: false })

export const DropEvent = Type.Object({
  seq: Seq,
  type: Type.Literal('drop'),
  time: Time,
  reason: Type.String({ description: 'enum skb_drop_reason name without SKB_DROP_REASON_', examples: ['SOCKET_RCVBUFF'] }),
  family: Family,
  src: Endpoint,
  dst: Endpoint,
  len: Type.Integer({ minimum: 0 })
}, { $id: 'DropEvent', additionalProperties: false })

export type LatencyEvent = Static<typeof LatencyEvent>
export type SendEvent = Static<typeof SendEvent>
export type PathEvent = Static<typeof PathEvent>
export type DropEvent = Static<typeof DropEvent>

export const EventPage = Type.Object({
  events: Type.Array(Type.Union([ref(LatencyEvent), ref(SendEvent), ref(PathEvent), ref(DropEvent)])),
  nextAfter: Type.Integer({ minimum: 0, description: 'Pass as `after` to get the events that follow' }),
  evicted: Type.Integer({ minimum: 0, description: 'Events between the cursor and the first returned that the buffer no longer holds' })
}, { additionalProperties: false })

export const EVENTS_QUERY_DEFAULTS = { after: 0, limit: 100, waitMs: 0 } as const
export const MAX_WAIT_MS = 30_000

export const EventsQuery = Type.Object({
  after: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: EVENTS_QUERY_DEFAULTS.after, description: 'Return events with a larger seq (for a stream, `Last-Event-ID` wins over it); decimal; past the session\'s lastSeq is a 400' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: EVENTS_QUERY_DEFAULTS.limit, description: 'At most this many events per page (polling only)' })),
  waitMs: Type.Optional(Type.Integer({
    minimum: 0,
    maximum: MAX_WAIT_MS,
    default: EVENTS_QUERY_DEFAULTS.waitMs,
    description: 'Long-poll: when no event follows the cursor, wait this long for one before answering with an empty page; an ended session answers at once (polling only)'
  }))
}, { additionalProperties: false })

export const StreamQuery = Type.Object({ after: EventsQuery.properties.after }, { additionalProperties: false })

export const StreamHeaders = Type.Object({
  'last-event-id': Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Resume after this seq: EventSource sends it when it reconnects; decimal; past the session\'s lastSeq is a 400' }))
})

/** SSE only: events between the cursor and `nextSeq` that the bounded buffer evicted before this client read them. */
export const LostEvent = Type.Object({
  count: Type.Integer({ minimum: 1, description: 'Events skipped, exactly' }),
  nextSeq: Type.Integer({ minimum: 1, description: 'Seq of the next event sent' })
}, { $id: 'LostEvent', additionalProperties: false })

/** SSE only: the session's state, first on every stream, again when it changes; the last one ends the stream. */
export const StateEvent = Type.Object({
  state: SessionState,
  error: Nullable(Type.String({ description: 'Why the session failed; null otherwise' }))
}, { $id: 'StateEvent', additionalProperties: false })

export const SSE_DESCRIPTION = [
  'Server-Sent Events. Each frame has `event:` and `data:` (one JSON object):',
  '`latency`, `send`, `path` and `drop` (data: LatencyEvent, SendEvent, PathEvent, DropEvent; `id:` is the seq),',
  '`lost` (data: LostEvent; `id:` is nextSeq - 1) when this client fell behind the bounded buffer and continues at the oldest retained event,',
  '`state` (data: StateEvent; no `id:`) first and whenever the state changes.',
  'Comment lines (`: heartbeat`) keep an idle stream alive. The stream ends after the session has ended and every event was sent.'
].join(' ')

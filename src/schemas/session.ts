import { Type, type Static, type TInteger } from 'typebox'
import { DIRECTIONS, MARK_NAMES, READER_STATES, VERDICTS, type Verdict } from '../marks.js'
import { DateTime, Nullable, Port, ref, Text } from './common.js'

/** Defaults of POST /v1/sessions, shared by the schema and the session manager. */
export const SESSION_DEFAULTS = { thresholdUs: 3000, plan: 'auto', reader: true, direction: 'receive', bufferEvents: 10_000, ttlSeconds: 3600 } as const

/** Bounds of POST /v1/sessions fields that GET /v1/host reports as limits. */
export const SESSION_BOUNDS = {
  bufferEvents: { min: 100, max: 1_000_000, default: SESSION_DEFAULTS.bufferEvents },
  ttlSeconds: { min: 1, max: 7 * 24 * 3600, default: SESSION_DEFAULTS.ttlSeconds }
} as const

export const PLANS = ['fentry', 'kprobe', 'tracepoint'] as const
export const SESSION_STATES = ['starting', 'running', 'stopping', 'stopped', 'expired', 'failed'] as const

export const Plan = Type.Enum(PLANS, { description: 'Attach plan: which kernel hooks see the marks' })
export const PlanRequest = Type.Enum(['auto', ...PLANS], { default: SESSION_DEFAULTS.plan, description: '`auto` lets the loader pick fentry, then kprobe, then tracepoint' })
export const SessionState = Type.Enum(SESSION_STATES)
export const Family = Type.Enum(['ipv4', 'ipv6'])
export const Direction = Type.Enum(DIRECTIONS, {
  default: SESSION_DEFAULTS.direction,
  description: 'The datagrams to trace: `receive` (latency events), `send` (send events: from the application\'s call to the driver), ' +
    'or `both`, where a datagram sent and received on this host (loopback, a veth pair into a namespace) is one path event with both halves'
})

const Prefixes = (side: string) => Type.Array(Text({ format: 'cidr', maxLength: 64 }), {
  minItems: 1,
  maxItems: 8,
  uniqueItems: true,
  description: `${side} address prefixes (IPv4 or IPv6 CIDR); a datagram matches any of them`
})

/**
 * Which datagrams a session sees: every given field must match. The local end of a datagram received is its
 * destination; of one sent, its source. The task filters (pid, comm, cgroup) name the reader of a datagram
 * received and the sender of one sent; a path passes when either does.
 */
export const Filter = Type.Object({
  ports: Type.Optional(Type.Array(Port, { minItems: 1, maxItems: 16, uniqueItems: true, description: 'Local ports; a datagram matches any of them. A session of both directions also takes a datagram this host sends to one of them' })),
  localAddrs: Type.Optional(Prefixes('Local')),
  remoteAddrs: Type.Optional(Prefixes('Remote')),
  remotePort: Type.Optional(Port),
  pid: Type.Optional(Type.Integer({ minimum: 1, maximum: 4194304, description: 'Reading (sending) process id (tgid)' })),
  comm: Type.Optional(Text({ format: 'comm', minLength: 1, maxLength: 15, description: 'Reading (sending) task name, at most 15 bytes' })),
  cgroup: Type.Optional(Text({ format: 'cgroup', maxLength: 4096, description: 'Reader\'s (sender\'s) cgroup v2 (and below): an absolute path as /proc/PID/cgroup shows it, or under the cgroup2 mount, or a numeric id; it must exist' })),
  netns: Type.Optional(Type.Integer({
    minimum: 1,
    maximum: 4294967295,
    description: 'Network namespace inode number; it must be one the service can see: its own, one bound to a path (ip netns add), or one of a process it may inspect'
  })),
  family: Type.Optional(Family)
}, { $id: 'Filter', additionalProperties: false })

export type Filter = Static<typeof Filter>

export const CreateSession = Type.Object({
  name: Type.Optional(Text({ minLength: 1, maxLength: 64, description: 'Free text to recognise the session by' })),
  filter: Type.Optional(ref(Filter)),
  thresholdUs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000_000, default: SESSION_DEFAULTS.thresholdUs, description: 'A datagram whose latency reaches this many microseconds becomes an event' })),
  plan: Type.Optional(PlanRequest),
  direction: Type.Optional(Direction),
  marks: Type.Optional(Type.Array(Type.Enum(MARK_NAMES), {
    minItems: 1,
    uniqueItems: true,
    description: 'The marks to take; default: all the plan sees on the sides of the path the session\'s direction traces. Each must be one the plan sees, ' +
      'on such a side (400 otherwise: a session of direction `receive` takes no `send`). ' +
      'Stages that need a mark not taken are null, and the marks must measure some stage of each kind of event the session gets (400 otherwise). Without `rx` and `arrive`, nothing runs for the host\'s packets before the socket: ' +
      'the cheapest session, but it sees drops only once a datagram is queued. `return` is the receive system calls\' exit: while a session takes it, every system call of the host takes the kernel\'s slower exit path'
  })),
  // No `default`: it depends on the direction, and the validator would write it into every request.
  reader: Type.Optional(Type.Boolean({
    description: 'Measure what the reading thread does while each datagram waits in the queue (each event\'s `reader`, histograms, verdict counts); ' +
      'it costs a lookup per context switch of the host while on. Default: on, except for a session of direction `send`, which has no reader (400 if asked)'
  })),
  bufferEvents: Type.Optional(Type.Integer({
    minimum: SESSION_BOUNDS.bufferEvents.min,
    maximum: SESSION_BOUNDS.bufferEvents.max,
    default: SESSION_DEFAULTS.bufferEvents,
    description: 'How many events the service keeps; older ones are evicted. The sum over all sessions is limited by UDPLAT_MAX_BUFFERED_EVENTS'
  })),
  ttlSeconds: Type.Optional(Type.Integer({
    minimum: SESSION_BOUNDS.ttlSeconds.min,
    maximum: SESSION_BOUNDS.ttlSeconds.max,
    default: SESSION_DEFAULTS.ttlSeconds,
    description: 'The session expires (state `expired`) this long after it was created'
  }))
}, { additionalProperties: false })

export type CreateSession = Static<typeof CreateSession>

const Count = (description: string) => Type.Integer({ minimum: 0, description })

export const Counts = Type.Object({
  matched: Count('Datagrams read or sent that passed the filter (kernel)'),
  slow: Count('Of those, at or over the threshold (kernel); slow = emitted + kernelLost'),
  emitted: Count('Slow events that reached the loader'),
  kernelLost: Count('Slow events lost in the kernel: ring buffer full'),
  evicted: Count('Events pushed out of the service buffer'),
  drops: Count('Dropped datagrams that passed the filter'),
  dropsLost: Count('Drops not sent as events: ring buffer full, or over the cap of 1000 drop events per CPU and second; counted by reason all the same'),
  dropsByReason: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'Drops per kernel drop reason (enum skb_drop_reason name)' }),
  stale: Count('Timestamps discarded as belonging to a reused skb'),
  untracked: Count('Datagrams read or sent with no marks to take: read without an arrive or enqueue mark, or queued to send when the kernel\'s table of datagrams in flight was full, or as a GSO super-packet'),
  readerVerdicts: Nullable(Type.Object(Object.fromEntries(VERDICTS.map((verdict) => [
    verdict,
    Count(verdict === 'unknown' ? 'Slow datagrams whose reader\'s history did not reach back to their enqueue' : `Slow datagrams whose reader was mostly ${READER_STATES.find((s) => s.verdict === verdict)?.name}`)
  ])) as Record<Verdict, TInteger>, { additionalProperties: false, description: 'Slow datagrams by their reader\'s verdict; null when the session does not take it' }))
}, { additionalProperties: false })

export const Session = Type.Object({
  id: Type.String(),
  name: Nullable(Type.String()),
  state: SessionState,
  createdAt: DateTime,
  startedAt: Nullable(DateTime),
  endedAt: Nullable({ ...DateTime, description: 'When the loader exited; an ended session is removed UDPLAT_RETENTION_SECONDS later' }),
  expiresAt: DateTime,
  filter: ref(Filter),
  thresholdUs: Type.Integer(),
  planRequested: PlanRequest,
  plan: Nullable(Plan),
  reader: Type.Boolean({ description: 'Whether the session measures what its readers do' }),
  direction: Direction,
  marks: Type.Array(Type.Enum(MARK_NAMES), { description: 'Marks the plan sees; stages needing the others are null' }),
  kernelRelease: Nullable(Type.String()),
  notes: Nullable(Type.String({ description: 'Why the loader did not choose other plans' })),
  bufferEvents: Type.Integer(),
  ttlSeconds: Type.Integer(),
  error: Nullable(Type.String({ description: 'Why the session failed' })),
  lastSeq: Type.Integer({ minimum: 0, description: 'Sequence number of the newest event, 0 before the first' }),
  counts: Counts
}, { $id: 'Session', additionalProperties: false })

export type Session = Static<typeof Session>

export const SessionList = Type.Object({ sessions: Type.Array(ref(Session)) }, { additionalProperties: false })

export const ListSessionsQuery = Type.Object({ state: Type.Optional(SessionState) }, { additionalProperties: false })

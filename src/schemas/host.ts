import { Type, type Static } from 'typebox'
import { Nullable } from './common.js'
import { Plan } from './session.js'

const Count = (description: string) => Type.Integer({ minimum: 0, description })

const Range = (description: string) => Type.Object({
  min: Type.Integer(),
  max: Type.Integer(),
  default: Type.Integer()
}, { additionalProperties: false, description })

export const Host = Type.Object({
  kernel: Type.String({ description: 'Kernel release' }),
  btf: Type.Boolean({ description: 'Whether the kernel has BTF (/sys/kernel/btf/vmlinux), which every plan needs' }),
  autoPlan: Nullable(Plan),
  plans: Type.Array(Type.Object({
    name: Plan,
    available: Type.Boolean(),
    reason: Nullable(Type.String({ description: 'Why the plan cannot be used on this kernel' }))
  }, { additionalProperties: false }), { description: 'Every attach plan, whether this kernel allows it, and why not' }),
  limits: Type.Object({
    maxSessions: Count('Sessions starting, running or stopping at once (UDPLAT_MAX_SESSIONS)'),
    maxBufferedEvents: Count('Sum of bufferEvents over every kept session (UDPLAT_MAX_BUFFERED_EVENTS)'),
    retentionSeconds: Count('How long an ended session stays readable (UDPLAT_RETENTION_SECONDS)'),
    maxEndedSessions: Count('How many ended sessions are kept at most; past that the oldest to have ended goes (UDPLAT_MAX_ENDED_SESSIONS)'),
    bufferEvents: Range('bufferEvents of POST /v1/sessions'),
    ttlSeconds: Range('ttlSeconds of POST /v1/sessions'),
    waitMs: Type.Object({ max: Type.Integer() }, { additionalProperties: false, description: 'waitMs of GET /v1/sessions/{id}/events' })
  }, { additionalProperties: false }),
  hub: Type.Object({
    kept: Type.Boolean({ description: 'Whether the service keeps a hub running between sessions, so that none waits for programs to load' }),
    running: Type.Boolean({ description: 'Whether that hub runs now' }),
    plan: Nullable({ ...Plan, description: 'Its plan, while it runs' }),
    error: Nullable(Type.String({ description: 'Why it is not running, after it failed; it is started again' }))
  }, { additionalProperties: false, description: 'The hub: one process holding the programs every session shares' }),
  usage: Type.Object({
    activeSessions: Count('Sessions starting, running or stopping'),
    keptSessions: Count('Sessions kept, ended ones included'),
    reservedEvents: Count('Sum of their bufferEvents')
  }, { additionalProperties: false })
}, { additionalProperties: false })

export type Host = Static<typeof Host>

/**
 * Parser for the loader's stdout: fixed-size little-endian records laid out
 * in bpf/udplat.h. Streaming: a record may arrive split across chunks.
 */

import { EVENT_KINDS, MARK_NAMES, marksOfBits, READER_STATE_NAMES, STAGE_NAMES, type Direction, type EventKind, type MarkName, type ReaderStateName, type StageName } from '../marks.js'

export const PROTO_VERSION = 5

/** rec_stats' counters, in the order of UDPLAT_COUNTERS (bpf/udplat.h). */
export const COUNTER_NAMES = [
  'matched', 'slow', 'emitted', 'kernelLost', 'drops', 'dropsLost', 'stale', 'untracked',
  'readerBusy', 'readerRunqueue', 'readerBlocked', 'readerUnknown'
] as const
export type CounterName = (typeof COUNTER_NAMES)[number]

export const RecordType = {
  hello: 1,
  event: 2,
  drop: 3,
  stats: 4,
  hist: 5,
  drop_count: 6,
  error: 7,
  bye: 8
} as const

/** Size in bytes of each record type, header included (bpf/tools/golden.c asserts them). */
export const RECORD_SIZES = {
  [RecordType.hello]: 344,
  [RecordType.event]: 184 + 8 * MARK_NAMES.length,
  [RecordType.drop]: 112,
  [RecordType.stats]: 16 + 8 * COUNTER_NAMES.length,
  [RecordType.hist]: 328,
  [RecordType.drop_count]: 64,
  [RecordType.error]: 264,
  [RecordType.bye]: 8
} as const

const HEADER_SIZE = 4
const AF_INET = 2
const AF_INET6 = 10
const KERNEL_RELEASE_LEN = 64
const NOTES_LEN = 256
const ERROR_MSG_LEN = 256
const MAX_SLOTS = 40

const PLAN_NAMES = [undefined, 'fentry', 'kprobe', 'tracepoint'] as const
/** A session's direction, as EVENT_RECEIVE | EVENT_SEND bits. */
const DIRECTION_NAMES: Readonly<Record<number, Direction>> = { 1: 'receive', 2: 'send', 3: 'both' }

export type PlanName = 'fentry' | 'kprobe' | 'tracepoint'
export type FamilyName = 'ipv4' | 'ipv6'

export interface HelloRecord {
  type: 'hello'
  version: number
  plan: PlanName
  marks: MarkName[]
  direction: Direction
  /** CLOCK_REALTIME - CLOCK_MONOTONIC, exact. */
  realtimeOffsetNs: bigint
  kernelRelease: string
  notes: string
}

/**
 * A rec_event or rec_drop exactly as the loader wrote it: a view of the stdout chunk, copied into the
 * session's ring and turned into JSON only when a client reads it (sessions/event-formatter.ts). Copy it to keep it.
 */
interface RawRecord<T extends 'event' | 'drop'> {
  type: T
  bytes: Buffer
}

export type EventRecord = RawRecord<'event'>
export type DropRecord = RawRecord<'drop'>

/** Byte offsets of rec_event's fields (bpf/udplat.h). Marks are CLOCK_MONOTONIC ns, 0 when the plan did not see them. */
/** struct flow, at byte 16 of rec_event and rec_drop alike: saddr, daddr, then len, sport, dport, family. */
const FLOW = { saddr: 16, daddr: 32, len: 48 } as const

export const EVENT_FIELDS = {
  /** The kind of event, an EVENT_* bit (EVENT_KINDS of src/marks.ts). */
  kind: 4,
  cgroupId: 8,
  flow: FLOW,
  pid: 60,
  tid: 64,
  comm: 68,
  /** struct softirq: cpu, flags (SOFTIRQ_FLAGS), the pid and comm of who held the CPU. */
  softirq: { cpu: 84, flags: 88, behindPid: 92, behindComm: 96 },
  /** struct reader: ns per READER_STATES row (u64 each), the verdict (READER_VERDICT), the pid and comm of who held its CPU. */
  reader: { ns: 112, verdict: 136, behindPid: 140, behindComm: 144 },
  /** struct task: the sender of a send or path event; tid 0 when none. */
  sender: { pid: 160, tid: 164, comm: 168 },
  /** The first of MARK_NAMES.length u64, one per mark in table order (src/marks.ts). */
  marks: 184
} as const

/** Byte offsets of rec_drop's fields (bpf/udplat.h). */
export const DROP_FIELDS = {
  timeNs: 8,
  flow: FLOW,
  reasonName: 64
} as const

export const TASK_COMM_LEN = 16

/** enum verdict (bpf/udplat.h): not measured, unknown, then READER_STATES' verdicts from `state` on. */
export const READER_VERDICT = { none: 0, unknown: 1, state: 2 } as const

/** struct softirq's flags (bpf/udplat.h). */
export const SOFTIRQ_FLAGS = { seen: 1, inKsoftirqd: 2 } as const
export const DROP_REASON_LEN = 48

/** Where one record's addresses are, and its len, followed by sport, dport and family. */
export interface FlowFields {
  saddr: number
  daddr: number
  len: number
}

export type StatsRecord = { type: 'stats', timeNs: number } & Record<CounterName, number>

/** A session's histograms, as rec_hist numbers them: every stage's, then each reader state's. */
export type HistName = StageName | `reader.${ReaderStateName}`
const HIST_NAMES: readonly HistName[] = [...STAGE_NAMES, ...READER_STATE_NAMES.map((name) => `reader.${name}` as const)]

export interface HistRecord {
  type: 'hist'
  hist: HistName
  slots: number[]
}

export interface DropCountRecord {
  type: 'drop_count'
  reason: number
  reasonName: string
  count: number
}

export interface ErrorRecord {
  type: 'error'
  err: number
  message: string
}

export interface ByeRecord {
  type: 'bye'
  status: number
}

export type ProbeRecord =
  | HelloRecord | EventRecord | DropRecord | StatsRecord | HistRecord | DropCountRecord | ErrorRecord | ByeRecord

export class RecordError extends Error {
  override name = 'RecordError'
  /** The records of the same push that came before the bad one, still valid. */
  records: ProbeRecord[] = []
}

/** Feed it stdout chunks in order; it returns the records completed so far. */
export class RecordParser {
  #pending: Buffer = Buffer.alloc(0)
  /** Stream offset of #pending's first byte, for error messages. */
  #streamOffset = 0

  push (chunk: Buffer): ProbeRecord[] {
    const buf = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk])
    const records: ProbeRecord[] = []
    let offset = 0
    const fail = (message: string) => Object.assign(new RecordError(message), { records })
    while (buf.length - offset >= HEADER_SIZE) {
      const type = buf.readUInt16LE(offset)
      const size = buf.readUInt16LE(offset + 2)
      const expected = (RECORD_SIZES as Record<number, number | undefined>)[type]
      if (expected === undefined) throw fail(`unknown record type ${type} at byte ${this.#streamOffset + offset}`)
      if (size !== expected) throw fail(`record type ${type} has size ${size}, expected ${expected}`)
      if (buf.length - offset < size) break
      try {
        records.push(decode(type, buf, offset, size))
      } catch (err) {
        if (err instanceof RecordError) err.records = records
        throw err
      }
      offset += size
    }
    // Copy the tail: a subarray would pin the whole chunk until the next push.
    this.#pending = Buffer.from(buf.subarray(offset))
    this.#streamOffset += offset
    return records
  }

  /** Call at end of stream: throws if a record was cut short. */
  end (): void {
    if (this.#pending.length > 0) throw new RecordError(`stream ended inside a record (${this.#pending.length} bytes left)`)
  }
}

/** A u64 as a Number, from two u32 reads: exact below 2^53, which every counter and mark stays under in practice. */
export function u64 (bytes: Buffer, at: number): number {
  return bytes.readUInt32LE(at + 4) * 0x1_0000_0000 + bytes.readUInt32LE(at)
}

/** A u64 in decimal, exact over all 64 bits (cgroup ids use them). */
export function u64Decimal (bytes: Buffer, at: number): string {
  const high = bytes.readUInt32LE(at + 4)
  return high < 0x20_0000 ? String(high * 0x1_0000_0000 + bytes.readUInt32LE(at)) : bytes.readBigUInt64LE(at).toString()
}

/** A NUL-terminated string in a fixed-size field. */
export function cString (bytes: Buffer, at: number, size: number): string {
  let end = at
  while (end < at + size && bytes[end] !== 0) end++
  return bytes.toString('utf8', at, end)
}

/** The address family of a record's flow; throws on one the service does not know. */
export function familyOf (bytes: Buffer, recordAt: number, flow: FlowFields): FamilyName {
  const family = bytes.readUInt16LE(recordAt + flow.len + 8)
  if (family === AF_INET) return 'ipv4'
  if (family === AF_INET6) return 'ipv6'
  throw new RecordError(`unknown address family ${family}`)
}

/** The kind of a record's event, from its EVENT_* bit; undefined for one the service does not know. */
export function eventKindOf (bytes: Buffer, recordAt: number): EventKind | undefined {
  return KIND_OF_BIT[bytes.readUInt32LE(recordAt + EVENT_FIELDS.kind)]
}

const KIND_OF_BIT: Readonly<Record<number, EventKind>> = Object.fromEntries(EVENT_KINDS.map(({ name }, i) => [1 << i, name]))

/** Dotted quad from the four bytes. */
export function formatIPv4 (bytes: Uint8Array, at = 0): string {
  return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`
}

/** RFC 5952 text form: lowercase, no leading zeros, the longest run of two or more zero groups as "::". */
export function formatIPv6 (bytes: Uint8Array, at = 0): string {
  const group = (i: number) => ((bytes[at + 2 * i] ?? 0) << 8) | (bytes[at + 2 * i + 1] ?? 0)
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8;) {
    let j = i
    while (j < 8 && group(j) === 0) j++
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i]
    i = j === i ? i + 1 : j
  }
  let text = ''
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += '::'
      i += bestLength - 1
    } else {
      text += (text === '' || text.endsWith(':') ? '' : ':') + group(i).toString(16)
    }
  }
  return text
}

class Reader {
  constructor (private readonly buf: Buffer, private readonly base: number) {}

  u8 (at: number): number { return this.buf.readUInt8(this.base + at) }
  u16 (at: number): number { return this.buf.readUInt16LE(this.base + at) }
  u32 (at: number): number { return this.buf.readUInt32LE(this.base + at) }
  s32 (at: number): number { return this.buf.readInt32LE(this.base + at) }
  u64 (at: number): number { return u64(this.buf, this.base + at) }
  s64Exact (at: number): bigint { return this.buf.readBigInt64LE(this.base + at) }
  str (at: number, size: number): string { return cString(this.buf, this.base + at, size) }
}

function decode (type: number, buf: Buffer, offset: number, size: number): ProbeRecord {
  const r = new Reader(buf, offset)
  switch (type) {
    case RecordType.hello: {
      const version = r.u16(4)
      if (version !== PROTO_VERSION) throw new RecordError(`loader speaks protocol version ${version}, expected ${PROTO_VERSION}`)
      const plan = PLAN_NAMES[r.u8(6)]
      if (plan === undefined) throw new RecordError(`hello names unknown plan ${r.u8(6)}`)
      const direction = DIRECTION_NAMES[r.u32(12)]
      if (direction === undefined) throw new RecordError(`hello names unknown direction ${r.u32(12)}`)
      return {
        type: 'hello',
        version,
        plan,
        marks: marksOfBits(r.u32(8)),
        direction,
        realtimeOffsetNs: r.s64Exact(16),
        kernelRelease: r.str(24, KERNEL_RELEASE_LEN),
        notes: r.str(24 + KERNEL_RELEASE_LEN, NOTES_LEN)
      }
    }
    case RecordType.event:
      // Checked here, so that a record the service cannot describe fails the session instead of a reader.
      familyOf(buf, offset, EVENT_FIELDS.flow)
      if (eventKindOf(buf, offset) === undefined) throw new RecordError(`event of unknown kind ${buf.readUInt32LE(offset + EVENT_FIELDS.kind)}`)
      return { type: 'event', bytes: buf.subarray(offset, offset + size) }
    case RecordType.drop:
      familyOf(buf, offset, DROP_FIELDS.flow)
      return { type: 'drop', bytes: buf.subarray(offset, offset + size) }
    case RecordType.stats:
      return {
        type: 'stats',
        timeNs: r.u64(8),
        ...Object.fromEntries(COUNTER_NAMES.map((name, i) => [name, r.u64(16 + 8 * i)])) as Record<CounterName, number>
      }
    case RecordType.hist: {
      const hist = HIST_NAMES[r.u16(4)]
      if (hist === undefined) throw new RecordError(`histogram of unknown stage ${r.u16(4)}`)
      return { type: 'hist', hist, slots: Array.from({ length: MAX_SLOTS }, (_, i) => r.u64(8 + 8 * i)) }
    }
    case RecordType.drop_count:
      return { type: 'drop_count', reason: r.u32(4), count: r.u64(8), reasonName: r.str(16, DROP_REASON_LEN) }
    case RecordType.error:
      return { type: 'error', err: r.s32(4), message: r.str(8, ERROR_MSG_LEN) }
    default:
      return { type: 'bye', status: r.s32(4) }
  }
}

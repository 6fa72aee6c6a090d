/**
 * Parser for the loader's stdout: fixed-size little-endian records laid out
 * in bpf/udplat.h. Streaming: a record may arrive split across chunks.
 */

export const PROTO_VERSION = 1

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

/** Size in bytes of each record type, header included. */
export const RECORD_SIZES: Record<number, number> = {
  [RecordType.hello]: 336,
  [RecordType.event]: 120,
  [RecordType.drop]: 112,
  [RecordType.stats]: 80,
  [RecordType.hist]: 328,
  [RecordType.drop_count]: 64,
  [RecordType.error]: 264,
  [RecordType.bye]: 8
}

const HEADER_SIZE = 4
const AF_INET = 2
const AF_INET6 = 10
const TASK_COMM_LEN = 16
const DROP_REASON_LEN = 48
const KERNEL_RELEASE_LEN = 64
const NOTES_LEN = 256
const ERROR_MSG_LEN = 256
const MAX_SLOTS = 40

const PLAN_NAMES = [undefined, 'fentry', 'kprobe', 'tracepoint'] as const
const MARK_NAMES = ['arrive', 'enqueue', 'read', 'return'] as const
export const STAGE_NAMES = ['stack', 'queue', 'copy', 'total'] as const

export type PlanName = 'fentry' | 'kprobe' | 'tracepoint'
export type MarkName = (typeof MARK_NAMES)[number]
export type StageName = (typeof STAGE_NAMES)[number]
export type FamilyName = 'ipv4' | 'ipv6'

export interface HelloRecord {
  type: 'hello'
  version: number
  plan: PlanName
  marks: MarkName[]
  /** CLOCK_REALTIME - CLOCK_MONOTONIC, exact. */
  realtimeOffsetNs: bigint
  kernelRelease: string
  notes: string
}

interface Flow {
  family: FamilyName
  saddr: string
  daddr: string
  sport: number
  dport: number
  len: number
}

/** Marks are CLOCK_MONOTONIC ns, 0 when the plan did not see them; exact below 2^53 ns (104 days of uptime). */
export interface EventRecord extends Flow {
  type: 'event'
  arriveNs: number
  enqueueNs: number
  readNs: number
  returnNs: number
  /** Decimal: cgroup ids use all 64 bits. */
  cgroupId: string
  pid: number
  tid: number
  comm: string
}

export interface DropRecord extends Flow {
  type: 'drop'
  reason: number
  reasonName: string
  timeNs: number
}

export interface StatsRecord {
  type: 'stats'
  timeNs: number
  matched: number
  slow: number
  emitted: number
  kernelLost: number
  drops: number
  dropsLost: number
  stale: number
  untracked: number
}

export interface HistRecord {
  type: 'hist'
  stage: StageName
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
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    const records: ProbeRecord[] = []
    let offset = 0
    const fail = (message: string) => Object.assign(new RecordError(message), { records })
    while (buf.length - offset >= HEADER_SIZE) {
      const type = view.getUint16(offset, true)
      const size = view.getUint16(offset + 2, true)
      const expected = RECORD_SIZES[type]
      if (expected === undefined) throw fail(`unknown record type ${type} at byte ${this.#streamOffset + offset}`)
      if (size !== expected) throw fail(`record type ${type} has size ${size}, expected ${expected}`)
      if (buf.length - offset < size) break
      try {
        records.push(decode(type, new Reader(view, buf, offset)))
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

class Reader {
  constructor (private readonly view: DataView, private readonly buf: Buffer, private readonly base: number) {}

  u8 (at: number): number { return this.view.getUint8(this.base + at) }
  u16 (at: number): number { return this.view.getUint16(this.base + at, true) }
  u32 (at: number): number { return this.view.getUint32(this.base + at, true) }
  s32 (at: number): number { return this.view.getInt32(this.base + at, true) }

  /** Two u32 reads: exact below 2^53, which every counter and mark stays under in practice. */
  u64 (at: number): number {
    return this.u32(at + 4) * 0x1_0000_0000 + this.u32(at)
  }

  u64Exact (at: number): bigint { return this.view.getBigUint64(this.base + at, true) }
  s64Exact (at: number): bigint { return this.view.getBigInt64(this.base + at, true) }

  /** A NUL-terminated string in a fixed-size field. */
  str (at: number, size: number): string {
    const start = this.base + at
    const nul = this.buf.indexOf(0, start)
    const end = nul === -1 || nul > start + size ? start + size : nul
    return this.buf.toString('utf8', start, end)
  }

  family (at: number): FamilyName {
    const family = this.u16(at)
    if (family === AF_INET) return 'ipv4'
    if (family === AF_INET6) return 'ipv6'
    throw new RecordError(`unknown address family ${family}`)
  }

  address (at: number, family: FamilyName): string {
    const start = this.base + at
    return family === 'ipv4' ? this.buf.subarray(start, start + 4).join('.') : formatIPv6(this.buf.subarray(start, start + 16))
  }

  /** The fields rec_event and rec_drop share: saddr, daddr, and len followed by sport, dport, family. */
  flow (addrAt: number, lenAt: number): Flow {
    const family = this.family(lenAt + 8)
    return {
      family,
      saddr: this.address(addrAt, family),
      daddr: this.address(addrAt + 16, family),
      len: this.u32(lenAt),
      sport: this.u16(lenAt + 4),
      dport: this.u16(lenAt + 6)
    }
  }
}

function decode (type: number, r: Reader): ProbeRecord {
  switch (type) {
    case RecordType.hello: {
      const version = r.u16(4)
      if (version !== PROTO_VERSION) throw new RecordError(`loader speaks protocol version ${version}, expected ${PROTO_VERSION}`)
      const plan = PLAN_NAMES[r.u8(6)]
      if (plan === undefined) throw new RecordError(`hello names unknown plan ${r.u8(6)}`)
      const markBits = r.u8(7)
      return {
        type: 'hello',
        version,
        plan,
        marks: MARK_NAMES.filter((_, bit) => (markBits & (1 << bit)) !== 0),
        realtimeOffsetNs: r.s64Exact(8),
        kernelRelease: r.str(16, KERNEL_RELEASE_LEN),
        notes: r.str(16 + KERNEL_RELEASE_LEN, NOTES_LEN)
      }
    }
    case RecordType.event: {
      return {
        type: 'event',
        arriveNs: r.u64(8),
        enqueueNs: r.u64(16),
        readNs: r.u64(24),
        returnNs: r.u64(32),
        cgroupId: r.u64Exact(40).toString(),
        ...r.flow(48, 88),
        pid: r.u32(80),
        tid: r.u32(84),
        comm: r.str(100, TASK_COMM_LEN)
      }
    }
    case RecordType.drop:
      return {
        type: 'drop',
        reason: r.u32(4),
        reasonName: r.str(64, DROP_REASON_LEN),
        timeNs: r.u64(8),
        ...r.flow(16, 48)
      }
    case RecordType.stats:
      return {
        type: 'stats',
        timeNs: r.u64(8),
        matched: r.u64(16),
        slow: r.u64(24),
        emitted: r.u64(32),
        kernelLost: r.u64(40),
        drops: r.u64(48),
        dropsLost: r.u64(56),
        stale: r.u64(64),
        untracked: r.u64(72)
      }
    case RecordType.hist: {
      const stage = STAGE_NAMES[r.u16(4)]
      if (stage === undefined) throw new RecordError(`histogram of unknown stage ${r.u16(4)}`)
      return { type: 'hist', stage, slots: Array.from({ length: MAX_SLOTS }, (_, i) => r.u64(8 + 8 * i)) }
    }
    case RecordType.drop_count:
      return { type: 'drop_count', reason: r.u32(4), count: r.u64(8), reasonName: r.str(16, DROP_REASON_LEN) }
    case RecordType.error:
      return { type: 'error', err: r.s32(4), message: r.str(8, ERROR_MSG_LEN) }
    default:
      return { type: 'bye', status: r.s32(4) }
  }
}

/** RFC 5952 text form: lowercase, no leading zeros, the longest run of two or more zero groups as "::". */
export function formatIPv6 (bytes: Uint8Array): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0))
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8;) {
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i]
    i = j === i ? i + 1 : j
  }
  const hex = groups.map((group) => group.toString(16))
  if (bestStart === -1) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`
}

import type { LatencyEvent } from '../schemas/event.js'
import { ascii, type ByteWriter } from '../sessions/byte-writer.js'
import { DROP_SLOT_FIELDS as DROP_FIELDS, EVENT_SLOT_FIELDS as EVENT_FIELDS } from '../sessions/event-slots.js'
import {
  cString, DROP_REASON_LEN, familyOf, formatIPv4, formatIPv6, RecordType, TASK_COMM_LEN, u64, u64Decimal,
  type FlowFields, type MarkName, type StageName
} from './records.js'

const NS_PER_S = 1_000_000_000

const Z = ascii('Z')

/**
 * Turns CLOCK_MONOTONIC ns into RFC 3339 wall-clock time, with the offset from the loader's hello.
 * Formats one Date per second of marks, not one per event: events come in time order.
 */
export class RealtimeClock {
  readonly #offsetS: number
  readonly #offsetNs: number
  #prefixSeconds = Number.NaN
  /** "YYYY-MM-DDTHH:MM:SS." of #prefixSeconds, as text and as bytes. */
  #prefix = ''
  #prefixBytes: Buffer = Buffer.alloc(0)

  constructor (realtimeOffsetNs: bigint) {
    const ns = BigInt(NS_PER_S)
    // Floor division, so that the nanosecond part stays in [0, 1e9) for negative offsets too.
    this.#offsetS = Number(realtimeOffsetNs / ns) - (realtimeOffsetNs % ns < 0n ? 1 : 0)
    this.#offsetNs = Number(realtimeOffsetNs - BigInt(this.#offsetS) * ns)
  }

  iso (monotonicNs: number): string {
    const ns = this.#secondOf(monotonicNs)
    // 1e9 + ns has ten digits: dropping the first zero-pads ns to nine.
    return `${this.#prefix}${String(NS_PER_S + ns).slice(1)}Z`
  }

  write (out: ByteWriter, monotonicNs: number): void {
    const ns = this.#secondOf(monotonicNs)
    out.bytes(this.#prefixBytes)
    out.nineDigits(ns)
    out.bytes(Z)
  }

  /** Points the prefix at the wall-clock second of the mark; returns the nanoseconds into that second. */
  #secondOf (monotonicNs: number): number {
    const markS = Math.floor(monotonicNs / NS_PER_S)
    const sumNs = monotonicNs - markS * NS_PER_S + this.#offsetNs
    const carry = sumNs >= NS_PER_S ? 1 : 0
    const seconds = this.#offsetS + markS + carry
    if (seconds !== this.#prefixSeconds) {
      this.#prefixSeconds = seconds
      this.#prefix = new Date(seconds * 1000).toISOString().slice(0, 20)
      this.#prefixBytes = ascii(this.#prefix)
    }
    return sumNs - carry * NS_PER_S
  }
}

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

/** The SSE `event:` name of a buffered (packed) rec_event or rec_drop. */
export function eventType (bytes: Buffer, at: number): 'latency' | 'drop' {
  return bytes.readUInt16LE(at) === RecordType.drop ? 'drop' : 'latency'
}

/** The literal parts of a LatencyEvent and a DropEvent, in the order of their schemas (as their serializer writes them). */
const JSON_PARTS = {
  latency: {
    seq: ascii('{"seq":'),
    time: ascii(',"type":"latency","time":"'),
    latencyNs: ascii('","latencyNs":'),
    slowestStage: ascii(',"slowestStage":'),
    stage: { stack: ascii('"stack"'), queue: ascii('"queue"'), copy: ascii('"copy"'), none: ascii('null') },
    stackNs: ascii(',"stages":{"stackNs":'),
    queueNs: ascii(',"queueNs":'),
    copyNs: ascii(',"copyNs":'),
    totalNs: ascii(',"totalNs":'),
    flow: ascii('},'),
    pid: ascii(',"pid":'),
    tid: ascii(',"tid":'),
    comm: ascii(',"comm":'),
    cgroupId: ascii(',"cgroupId":"'),
    end: ascii('"}')
  },
  drop: {
    seq: ascii('{"seq":'),
    time: ascii(',"type":"drop","time":"'),
    reason: ascii('","reason":'),
    flow: ascii(','),
    end: ascii('}')
  },
  flow: {
    ipv4: ascii('"family":"ipv4","src":{"address":"'),
    ipv6: ascii('"family":"ipv6","src":{"address":"'),
    srcPort: ascii('","port":'),
    dst: ascii('},"dst":{"address":"'),
    dstPort: ascii('","port":'),
    len: ascii('},"len":')
  }
} as const

/**
 * Writes the JSON of a buffered rec_event or rec_drop (packed in its slot: event-slots.ts) when a client
 * reads it, straight from its bytes, exactly as the serializer of the LatencyEvent and DropEvent schemas
 * would write the event.
 */
export class EventFormatter {
  // A session sees the same readers, cgroups, peers and drop reasons over and over: their text is built once per change.
  readonly #comm = new FieldText(TASK_COMM_LEN, (bytes, at) => Buffer.from(JSON.stringify(cString(bytes, at, TASK_COMM_LEN))))
  readonly #cgroupId = new FieldText(8, (bytes, at) => ascii(u64Decimal(bytes, at)))
  readonly #reason = new FieldText(DROP_REASON_LEN, (bytes, at) => Buffer.from(JSON.stringify(cString(bytes, at, DROP_REASON_LEN))))
  readonly #addresses = {
    ipv4: { src: new FieldText(4, (bytes, at) => ascii(formatIPv4(bytes, at))), dst: new FieldText(4, (bytes, at) => ascii(formatIPv4(bytes, at))) },
    ipv6: { src: new FieldText(16, (bytes, at) => ascii(formatIPv6(bytes, at))), dst: new FieldText(16, (bytes, at) => ascii(formatIPv6(bytes, at))) }
  }

  constructor (private readonly clock: RealtimeClock, private readonly measured: MeasuredStages) {}

  /** Writes the record packed at `at` in `bytes`, numbered `seq`, as JSON. */
  write (out: ByteWriter, bytes: Buffer, at: number, seq: number): void {
    if (eventType(bytes, at) === 'drop') this.#drop(out, bytes, at, seq)
    else this.#latency(out, bytes, at, seq)
  }

  #latency (out: ByteWriter, bytes: Buffer, at: number, seq: number): void {
    const parts = JSON_PARTS.latency
    const marks: Marks = {
      arriveNs: u64(bytes, at + EVENT_FIELDS.arriveNs),
      enqueueNs: u64(bytes, at + EVENT_FIELDS.enqueueNs),
      readNs: u64(bytes, at + EVENT_FIELDS.readNs),
      returnNs: u64(bytes, at + EVENT_FIELDS.returnNs)
    }
    const { latencyNs, slowestStage, stages } = latencyOf(marks, this.measured)
    out.bytes(parts.seq)
    out.integer(seq)
    out.bytes(parts.time)
    // The latest mark the plan saw: the moment the datagram's journey ended.
    this.clock.write(out, marks.returnNs || marks.readNs || marks.enqueueNs || marks.arriveNs)
    out.bytes(parts.latencyNs)
    out.integer(latencyNs)
    out.bytes(parts.slowestStage)
    out.bytes(parts.stage[slowestStage ?? 'none'])
    out.bytes(parts.stackNs)
    out.integer(stages.stackNs)
    out.bytes(parts.queueNs)
    out.integer(stages.queueNs)
    out.bytes(parts.copyNs)
    out.integer(stages.copyNs)
    out.bytes(parts.totalNs)
    out.integer(stages.totalNs)
    out.bytes(parts.flow)
    this.#flow(out, bytes, at, EVENT_FIELDS.flow)
    out.bytes(parts.pid)
    out.integer(bytes.readUInt32LE(at + EVENT_FIELDS.pid))
    out.bytes(parts.tid)
    out.integer(bytes.readUInt32LE(at + EVENT_FIELDS.tid))
    out.bytes(parts.comm)
    out.bytes(this.#comm.of(bytes, at + EVENT_FIELDS.comm))
    out.bytes(parts.cgroupId)
    out.bytes(this.#cgroupId.of(bytes, at + EVENT_FIELDS.cgroupId))
    out.bytes(parts.end)
  }

  #drop (out: ByteWriter, bytes: Buffer, at: number, seq: number): void {
    const parts = JSON_PARTS.drop
    out.bytes(parts.seq)
    out.integer(seq)
    out.bytes(parts.time)
    this.clock.write(out, u64(bytes, at + DROP_FIELDS.timeNs))
    out.bytes(parts.reason)
    out.bytes(this.#reason.of(bytes, at + DROP_FIELDS.reasonName))
    out.bytes(parts.flow)
    this.#flow(out, bytes, at, DROP_FIELDS.flow)
    out.bytes(parts.end)
  }

  /** `"family"`, `"src"`, `"dst"` and `"len"` of a rec_event or rec_drop. */
  #flow (out: ByteWriter, bytes: Buffer, at: number, flow: FlowFields): void {
    const parts = JSON_PARTS.flow
    const family = familyOf(bytes, at, flow)
    const addresses = this.#addresses[family]
    const lenAt = at + flow.len
    out.bytes(parts[family])
    out.bytes(addresses.src.of(bytes, at + flow.saddr))
    out.bytes(parts.srcPort)
    out.integer(bytes.readUInt16LE(lenAt + 4))
    out.bytes(parts.dst)
    out.bytes(addresses.dst.of(bytes, at + flow.daddr))
    out.bytes(parts.dstPort)
    out.integer(bytes.readUInt16LE(lenAt + 6))
    out.bytes(parts.len)
    out.integer(bytes.readUInt32LE(lenAt))
  }
}

/** The encoded text of one fixed-size field, kept for as long as the field's bytes stay the same. */
class FieldText {
  readonly #words: Uint32Array
  #text: Buffer | undefined

  /** `size`: bytes, a multiple of 4. */
  constructor (size: number, private readonly build: (bytes: Buffer, at: number) => Buffer) {
    this.#words = new Uint32Array(size / 4)
  }

  of (bytes: Buffer, at: number): Buffer {
    let same = this.#text !== undefined
    for (let i = 0; i < this.#words.length; i++) {
      const word = bytes.readUInt32LE(at + 4 * i)
      if (word !== this.#words[i]) {
        this.#words[i] = word
        same = false
      }
    }
    if (!same || this.#text === undefined) this.#text = this.build(bytes, at)
    return this.#text
  }
}

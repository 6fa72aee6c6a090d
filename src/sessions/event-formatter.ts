import { EVENT_KINDS, KIND_STAGES, MARK_NAMES, READER_STATE_NAMES, STAGE_NAMES, STAGES, VERDICTS, type EventKind, type StageMeter } from '../marks.js'
import { cString, DROP_REASON_LEN, familyOf, formatIPv4, formatIPv6, READER_VERDICT, SOFTIRQ_FLAGS, TASK_COMM_LEN, u64, u64Decimal, type FlowFields } from '../probe/records.js'
import { ascii, type ByteWriter } from './byte-writer.js'
import { DROP_SLOT_FIELDS as DROP_FIELDS, EVENT_SLOT_FIELDS as EVENT_FIELDS, eventKindIndex, eventType } from './event-slots.js'
import type { RealtimeClock } from './realtime-clock.js'

/** The literal parts of an event of `kind` that differ by kind: its type, and its stages (KIND_STAGES order). */
const kindParts = (kind: EventKind) => {
  const stages = KIND_STAGES[kind].stages
  return {
    /** Indices into STAGES, in the order `stages` has them. */
    stages,
    total: KIND_STAGES[kind].total,
    time: ascii(`,"type":${JSON.stringify(EVENT_KINDS.find(({ name }) => name === kind)!.type)},"time":"`),
    /** By position in `stages`: what comes before the stage's duration. */
    stageNs: stages.map((stage, i) => ascii(`${i === 0 ? ',"stages":{' : ','}"${STAGE_NAMES[stage]!}Ns":`))
  }
}

/** The literal parts of the events and a DropEvent, in the order of their schemas (as their serializer writes them). */
const JSON_PARTS = {
  /** By EVENT_KINDS index. */
  kinds: EVENT_KINDS.map(({ name }) => kindParts(name)),
  datagram: {
    seq: ascii('{"seq":'),
    latencyNs: ascii('","latencyNs":'),
    slowestStage: ascii(',"slowestStage":'),
    /** By stage index: the stage's name as a JSON string, for the parts `slowestStage` ranges over. */
    stageName: STAGES.map(({ name }) => ascii(JSON.stringify(name))),
    noStage: ascii('null'),
    flow: ascii('},'),
    pid: ascii(',"pid":'),
    tid: ascii(',"tid":'),
    comm: ascii(',"comm":'),
    softirq: {
      none: ascii(',"softirq":null'),
      cpu: ascii(',"softirq":{"cpu":'),
      inKsoftirqd: { true: ascii(',"inKsoftirqd":true'), false: ascii(',"inKsoftirqd":false') },
      noBehind: ascii(',"waitedBehind":null}'),
      behindPid: ascii(',"waitedBehind":{"pid":'),
      behindComm: ascii(',"comm":'),
      end: ascii('}}')
    },
    reader: {
      none: ascii(',"reader":null'),
      /** By enum verdict (READER_VERDICT): what opens the object. */
      verdict: ['none', 'unknown', ...VERDICTS.slice(0, -1)].map((verdict) => ascii(`,"reader":{"verdict":${JSON.stringify(verdict)}`)),
      stateNs: READER_STATE_NAMES.map((name) => ascii(`,"${name}Ns":`)),
      noBehind: ascii(',"waitedBehind":null}'),
      behindPid: ascii(',"waitedBehind":{"pid":'),
      behindComm: ascii(',"comm":'),
      end: ascii('}}')
    },
    sender: {
      pid: ascii(',"sender":{"pid":'),
      tid: ascii(',"tid":'),
      comm: ascii(',"comm":'),
      end: ascii('}')
    },
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

/** A task name in a fixed-size field, as a JSON string. */
const commJson = (bytes: Buffer, at: number): Buffer => Buffer.from(JSON.stringify(cString(bytes, at, TASK_COMM_LEN)))

/**
 * Writes the JSON of a buffered rec_event or rec_drop (packed in its slot: event-slots.ts) when a client
 * reads it, straight from its bytes, exactly as the serializer of the LatencyEvent, SendEvent, PathEvent and
 * DropEvent schemas would write the event.
 */
export class EventFormatter {
  // A session sees the same readers, cgroups, peers and drop reasons over and over: their text is built once per change.
  readonly #comm = new FieldText(TASK_COMM_LEN, commJson)
  readonly #readerBehindComm = new FieldText(TASK_COMM_LEN, commJson)
  readonly #behindComm = new FieldText(TASK_COMM_LEN, commJson)
  readonly #senderComm = new FieldText(TASK_COMM_LEN, commJson)
  readonly #cgroupId = new FieldText(8, (bytes, at) => ascii(u64Decimal(bytes, at)))
  readonly #reason = new FieldText(DROP_REASON_LEN, (bytes, at) => Buffer.from(JSON.stringify(cString(bytes, at, DROP_REASON_LEN))))
  readonly #addresses = {
    ipv4: { src: new FieldText(4, (bytes, at) => ascii(formatIPv4(bytes, at))), dst: new FieldText(4, (bytes, at) => ascii(formatIPv4(bytes, at))) },
    ipv6: { src: new FieldText(16, (bytes, at) => ascii(formatIPv6(bytes, at))), dst: new FieldText(16, (bytes, at) => ascii(formatIPv6(bytes, at))) }
  }

  /** One datagram's marks, then its stages, reused from event to event. */
  readonly #marks = new Float64Array(MARK_NAMES.length)
  readonly #stages: Array<number | null> = STAGE_NAMES.map(() => null)
  /** The stage spent in a CPU's backlog, which names who held that CPU when it is long. */
  readonly #backlog = STAGE_NAMES.indexOf('backlog')

  constructor (private readonly clock: RealtimeClock, private readonly meter: StageMeter) {}

  /** Writes the record packed at `at` in `bytes`, numbered `seq`, as JSON. */
  write (out: ByteWriter, bytes: Buffer, at: number, seq: number): void {
    if (eventType(bytes, at) === 'drop') this.#drop(out, bytes, at, seq)
    else this.#datagram(out, bytes, at, seq)
  }

  /** A LatencyEvent, SendEvent or PathEvent, by the record's kind. */
  #datagram (out: ByteWriter, bytes: Buffer, at: number, seq: number): void {
    const parts = JSON_PARTS.datagram
    const kindIndex = eventKindIndex(bytes, at)
    const kind = EVENT_KINDS[kindIndex]!.name
    const own = JSON_PARTS.kinds[kindIndex]!
    const marks = this.#marks
    // The earliest and latest marks: sent, last in the table, may come before the datagram left.
    let first = 0
    let last = 0
    for (let i = 0; i < marks.length; i++) {
      const mark = marks[i] = u64(bytes, at + EVENT_FIELDS.marks + 8 * i)
      if (mark === 0) continue
      if (first === 0 || mark < first) first = mark
      if (mark > last) last = mark
    }
    const stages = this.#stages
    const slowest = this.meter.measure(marks, stages, kind)
    out.bytes(parts.seq)
    out.integer(seq)
    out.bytes(own.time)
    // The latest mark the plan saw: the moment the datagram's journey ended.
    this.clock.write(out, last)
    out.bytes(parts.latencyNs)
    out.integer(stages[own.total] ?? last - first)
    out.bytes(parts.slowestStage)
    out.bytes(slowest < 0 ? parts.noStage : parts.stageName[slowest]!)
    for (let i = 0; i < own.stages.length; i++) {
      out.bytes(own.stageNs[i]!)
      out.integer(stages[own.stages[i]!] ?? null)
    }
    out.bytes(parts.flow)
    this.#flow(out, bytes, at, EVENT_FIELDS.flow)
    out.bytes(parts.pid)
    out.integer(bytes.readUInt32LE(at + EVENT_FIELDS.pid))
    out.bytes(parts.tid)
    out.integer(bytes.readUInt32LE(at + EVENT_FIELDS.tid))
    out.bytes(parts.comm)
    out.bytes(this.#comm.of(bytes, at + EVENT_FIELDS.comm))
    if (kind !== 'send') {
      this.#softirq(out, bytes, at, stages[own.total] ?? null)
      this.#reader(out, bytes, at)
    }
    if (kind === 'path') this.#sender(out, bytes, at)
    out.bytes(parts.cgroupId)
    out.bytes(this.#cgroupId.of(bytes, at + EVENT_FIELDS.cgroupId))
    out.bytes(parts.end)
  }

  /** `"softirq"`: named who held the CPU when the backlog took a tenth of the event's `total` or more. */
  #softirq (out: ByteWriter, bytes: Buffer, at: number, total: number | null): void {
    const parts = JSON_PARTS.datagram.softirq
    const fields = EVENT_FIELDS.softirq
    const flags = bytes.readUInt32LE(at + fields.flags)
    if ((flags & SOFTIRQ_FLAGS.seen) === 0) {
      out.bytes(parts.none)
      return
    }
    out.bytes(parts.cpu)
    out.integer(bytes.readUInt32LE(at + fields.cpu))
    out.bytes(parts.inKsoftirqd[(flags & SOFTIRQ_FLAGS.inKsoftirqd) !== 0 ? 'true' : 'false'])
    const behind = bytes.readUInt32LE(at + fields.behindPid)
    // A path's stages leave the backlog out (it overlaps the driver and the wire): measured on its own, when it matters.
    const backlog = behind === 0 || total === null ? null : this.meter.stageNs(this.#backlog, this.#marks)
    if (backlog === null || total === null || 10 * backlog < total) {
      out.bytes(parts.noBehind)
      return
    }
    out.bytes(parts.behindPid)
    out.integer(behind)
    out.bytes(parts.behindComm)
    out.bytes(this.#behindComm.of(bytes, at + fields.behindComm))
    out.bytes(parts.end)
  }

  /** `"sender"` of a path event. */
  #sender (out: ByteWriter, bytes: Buffer, at: number): void {
    const parts = JSON_PARTS.datagram.sender
    const fields = EVENT_FIELDS.sender
    out.bytes(parts.pid)
    out.integer(bytes.readUInt32LE(at + fields.pid))
    out.bytes(parts.tid)
    out.integer(bytes.readUInt32LE(at + fields.tid))
    out.bytes(parts.comm)
    out.bytes(this.#senderComm.of(bytes, at + fields.comm))
    out.bytes(parts.end)
  }

  /** `"reader"`: what the reading thread did while the datagram waited, or null when the session does not take it. */
  #reader (out: ByteWriter, bytes: Buffer, at: number): void {
    const parts = JSON_PARTS.datagram.reader
    const fields = EVENT_FIELDS.reader
    const verdict = bytes.readUInt32LE(at + fields.verdict)
    const opening = parts.verdict[verdict]
    if (verdict === READER_VERDICT.none || opening === undefined) {
      out.bytes(parts.none)
      return
    }
    out.bytes(opening)
    for (let i = 0; i < parts.stateNs.length; i++) {
      out.bytes(parts.stateNs[i]!)
      out.integer(verdict === READER_VERDICT.unknown ? null : u64(bytes, at + fields.ns + 8 * i))
    }
    const behind = bytes.readUInt32LE(at + fields.behindPid)
    if (behind === 0) {
      out.bytes(parts.noBehind)
      return
    }
    out.bytes(parts.behindPid)
    out.integer(behind)
    out.bytes(parts.behindComm)
    out.bytes(this.#readerBehindComm.of(bytes, at + fields.behindComm))
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

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { MARK_NAMES, StageMeter, type MarkName } from '../../src/marks.js'
import { EVENT_FIELDS, RecordParser, type DropRecord, type EventRecord, type HelloRecord } from '../../src/probe/records.js'
import { DropEvent, LatencyEvent, PathEvent, SendEvent } from '../../src/schemas/event.js'
import { ByteWriter } from '../../src/sessions/byte-writer.js'
import { EventFormatter } from '../../src/sessions/event-formatter.js'
import { EVENT_SLOT_BYTES, eventType, packRecord } from '../../src/sessions/event-slots.js'
import { RealtimeClock } from '../../src/sessions/realtime-clock.js'

const ALL = new StageMeter(MARK_NAMES)
const [hello, ev4, ev6, sent, drop] = new RecordParser().push(readFileSync(new URL('../fixtures/records.bin', import.meta.url))) as
  [HelloRecord, EventRecord, EventRecord, EventRecord, DropRecord]
const clock = new RealtimeClock(hello.realtimeOffsetNs)

/** A record's event as a client reads it, packed at slot `slot` of a ring as a session keeps it, through `formatter`. */
function format (bytes: Buffer, seq: number, slot = 2, formatter = new EventFormatter(clock, ALL)) {
  const ring = Buffer.alloc((slot + 2) * EVENT_SLOT_BYTES, 0xff)
  const at = slot * EVENT_SLOT_BYTES
  packRecord(bytes, ring, at)
  const out = new ByteWriter(16)
  formatter.write(out, ring, at, seq)
  return { type: eventType(ring, at), json: out.take().toString() }
}

/** The keys of a JSON value, nested, in order: what a client comparing text would see. */
function keyOrder (value: unknown): unknown {
  if (value === null || typeof value !== 'object') return null
  return Object.entries(value).map(([key, inner]) => [key, keyOrder(inner)])
}

/**
 * The keys a TypeBox object schema lists for `value`, nested, in order (null for any other schema, and for a
 * nullable object whose value is null): the serializer's layout.
 */
function schemaKeyOrder (schema: unknown, value: unknown): unknown {
  if (value === null || typeof value !== 'object') return null
  const branches = typeof schema === 'object' && schema !== null && 'anyOf' in schema && Array.isArray(schema.anyOf) ? schema.anyOf : []
  const object = branches.find((branch: unknown) => typeof branch === 'object' && branch !== null && 'properties' in branch)
  if (object !== undefined) return schemaKeyOrder(object, value)
  const properties = typeof schema === 'object' && schema !== null && 'properties' in schema ? schema.properties : undefined
  if (typeof properties !== 'object' || properties === null) return null
  return Object.entries(properties).map(([key, inner]) => [key, schemaKeyOrder(inner, (value as Record<string, unknown>)[key])])
}

/** Where mark `name` is in a rec_event. */
const markAt = (name: MarkName): number => EVENT_FIELDS.marks + 8 * MARK_NAMES.indexOf(name)

describe('EventFormatter', () => {
  const latency4 = {
    seq: 7,
    type: 'latency',
    time: '2025-11-24T16:00:01.143471789Z',
    latencyNs: 20025000,
    slowestStage: 'queue',
    stages: { backlogNs: 10000, stackNs: 10000, queueNs: 20000000, copyNs: 5000, totalNs: 20025000 },
    family: 'ipv4',
    src: { address: '127.0.0.1', port: 40000 },
    dst: { address: '127.0.0.2', port: 9999 },
    len: 512,
    pid: 4242,
    tid: 4243,
    comm: 'receiver',
    softirq: { cpu: 1, inKsoftirqd: true, waitedBehind: null },
    reader: { verdict: 'runqueue', onCpuNs: 1000, runqueueNs: 19000000, offCpuNs: 999000, waitedBehind: { pid: 778, comm: 'hog' } },
    cgroupId: '9007199254740993'
  }
  const drop8 = {
    seq: 8,
    type: 'drop',
    time: '2025-11-24T16:00:03.123456789Z',
    reason: 'SOCKET_RCVBUFF',
    family: 'ipv4',
    src: { address: '10.0.0.1', port: 1234 },
    dst: { address: '10.0.0.2', port: 9999 },
    len: 1400
  }

  it('turns an event record into a latency event, keys in schema order, the 64-bit cgroup id exact', () => {
    const event = format(ev4.bytes, 7)
    expect(event.type).toBe('latency')
    expect(event.json).toBe(JSON.stringify(latency4))
    expect(keyOrder(latency4)).toEqual(schemaKeyOrder(LatencyEvent, latency4))
  })

  it('formats an IPv6 event and its unseen stages', () => {
    expect(JSON.parse(format(ev6.bytes, 1).json)).toEqual({
      seq: 1,
      type: 'latency',
      time: '2025-11-24T16:00:02.128456889Z',
      latencyNs: 5000100,
      slowestStage: 'copy',
      stages: { backlogNs: null, stackNs: null, queueNs: null, copyNs: 100, totalNs: 5000100 },
      family: 'ipv6',
      src: { address: '2001:db8::1', port: 53 },
      dst: { address: '::1', port: 5353 },
      len: 0,
      pid: 7,
      tid: 7,
      comm: 'fifteen-chars-x',
      softirq: null,
      reader: { verdict: 'unknown', onCpuNs: null, runqueueNs: null, offCpuNs: null, waitedBehind: null },
      cgroupId: '1'
    })
  })

  it('names who held the backlog\'s CPU when the backlog took a tenth of the whole path or more', () => {
    const bytes = Buffer.from(ev4.bytes)
    bytes.writeBigUInt64LE(bytes.readBigUInt64LE(markAt('rx')) - 2_500_000n, markAt('rx'))
    const event = JSON.parse(format(bytes, 1).json)
    expect(event).toMatchObject({
      slowestStage: 'queue',
      stages: { backlogNs: 2_510_000, totalNs: 22_525_000 },
      softirq: { cpu: 1, inKsoftirqd: true, waitedBehind: { pid: 777, comm: 'spinner' } }
    })
    expect(keyOrder(event)).toEqual(schemaKeyOrder(LatencyEvent, event))
  })

  it('times an event by its latest mark', () => {
    const bytes = Buffer.from(ev4.bytes)
    // No read, no return: the enqueue mark is the latest.
    bytes.fill(0, markAt('read'), markAt('return') + 8)
    expect(JSON.parse(format(bytes, 1).json).time).toBe('2025-11-24T16:00:01.123466789Z')
  })

  it('escapes a task name as JSON', () => {
    const bytes = Buffer.from(ev4.bytes)
    bytes.fill(0, EVENT_FIELDS.comm, EVENT_FIELDS.comm + 16).write('a"b\\c\n\u00e9', EVENT_FIELDS.comm)
    expect(JSON.parse(format(bytes, 1).json).comm).toBe('a"b\\c\n\u00e9')
  })

  it('turns a drop record into a drop event, keys in schema order', () => {
    const event = format(drop.bytes, 8, 0)
    expect(event.type).toBe('drop')
    expect(event.json).toBe(JSON.stringify(drop8))
    expect(keyOrder(drop8)).toEqual(schemaKeyOrder(DropEvent, drop8))
  })

  it('reads the record where the ring holds it', () => {
    expect(format(ev4.bytes, 7, 0)).toEqual(format(ev4.bytes, 7, 3))
  })

  it('turns a send record into a send event: the sender\'s stages to the driver, its call apart, keys in schema order', () => {
    const event = format(sent.bytes, 3)
    expect(event.type).toBe('send')
    const json = JSON.parse(event.json)
    expect(json).toEqual({
      seq: 3,
      type: 'send',
      time: '2025-11-24T16:00:05.133479789Z',
      latencyNs: 10023000,
      slowestStage: 'qdisc',
      stages: { sendStackNs: 20000, qdiscNs: 10000000, driverNs: 3000, sendTotalNs: 10023000, callNs: 25000 },
      family: 'ipv4',
      src: { address: '10.0.0.1', port: 5000 },
      dst: { address: '10.0.0.2', port: 6000 },
      len: 1200,
      pid: 31,
      tid: 32,
      comm: 'sender',
      cgroupId: '9'
    })
    expect(keyOrder(json)).toEqual(schemaKeyOrder(SendEvent, json))
  })

  it('turns a path record into a path event: both halves, the wire from the driver to arrive, the sender named', () => {
    const bytes = Buffer.from(ev4.bytes)
    bytes.writeUInt32LE(4, EVENT_FIELDS.kind)
    const rx = bytes.readBigUInt64LE(markAt('rx'))
    for (const [name, ns] of [['send', rx - 40_000n], ['queued', rx - 30_000n], ['xmitStart', rx - 5000n], ['xmitDone', rx + 2000n], ['sent', rx + 9000n]] as const) {
      bytes.writeBigUInt64LE(ns, markAt(name))
    }
    bytes.writeUInt32LE(31, EVENT_FIELDS.sender.pid)
    bytes.writeUInt32LE(32, EVENT_FIELDS.sender.tid)
    bytes.write('sender', EVENT_FIELDS.sender.comm)
    const event = format(bytes, 4)
    expect(event.type).toBe('path')
    const json = JSON.parse(event.json)
    expect(json).toMatchObject({
      type: 'path',
      latencyNs: 20065000,
      slowestStage: 'queue',
      stages: { stackNs: 10000, queueNs: 20000000, copyNs: 5000, totalNs: 20065000, sendStackNs: 10000, qdiscNs: 25000, driverNs: 7000, wireNs: 8000, callNs: 49000 },
      comm: 'receiver',
      sender: { pid: 31, tid: 32, comm: 'sender' }
    })
    expect(keyOrder(json)).toEqual(schemaKeyOrder(PathEvent, json))
  })

  it('writes a null reader for a session that does not take it', () => {
    const bytes = Buffer.from(ev4.bytes)
    bytes.writeUInt32LE(0, EVENT_FIELDS.reader.verdict)
    expect(JSON.parse(format(bytes, 1).json).reader).toBeNull()
  })

  it('rebuilds the text it keeps of a field as soon as the field changes', () => {
    const formatter = new EventFormatter(clock, ALL)
    const other = Buffer.from(ev4.bytes)
    other.write('sender\0\0', EVENT_FIELDS.comm)
    other.set([10, 1, 2, 3], EVENT_FIELDS.flow.daddr)
    other.writeBigUInt64LE(2n ** 64n - 1n, EVENT_FIELDS.cgroupId)
    const read = (bytes: Buffer) => JSON.parse(format(bytes, 1, 0, formatter).json)
    for (let i = 0; i < 2; i++) {
      expect(read(ev4.bytes)).toMatchObject({ comm: 'receiver', dst: { address: '127.0.0.2' }, cgroupId: '9007199254740993' })
      expect(read(other)).toMatchObject({ comm: 'sender', dst: { address: '10.1.2.3' }, cgroupId: '18446744073709551615' })
    }
    expect(read(drop.bytes)).toMatchObject({ reason: 'SOCKET_RCVBUFF', src: { address: '10.0.0.1' } })
    expect(read(ev6.bytes)).toMatchObject({ src: { address: '2001:db8::1' }, dst: { address: '::1' } })
  })
})

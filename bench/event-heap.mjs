#!/usr/bin/env node
/**
 * Memory retained per buffered event, measured exactly: N binary event
 * records (rec_event, as the loader writes them, fields varying per datagram)
 * through the service's own RecordParser and EventLog as Session#onRecord uses
 * them, with a forced GC before and after: V8 heap, and Buffer memory outside
 * it. Prints one JSON line. Also measures builds from before the raw-record
 * ring (EventLog of event objects built by toLatencyEvent).
 *
 *   node --expose-gc bench/event-heap.mjs SESSIONS EVENTS_PER_SESSION
 */
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const DIST = process.env.UDPLAT_BENCH_DIST ? `${process.env.UDPLAT_BENCH_DIST.replace(/\/$/, '')}/` : `${ROOT}dist/`
const { EVENT_FIELDS, RECORD_SIZES, RecordParser, RecordType } = await import(`${DIST}probe/records.js`)
// Builds since the marks table (src/marks.ts) have no probe/events.js: they buffer records and convert nothing.
const { measuredStages, realtimeClock, toLatencyEvent } = await import(`${DIST}probe/events.js`).catch(() => ({}))
/** Builds from before the raw-record ring converted each record to an event object as it was buffered. */
const convertsOnAppend = toLatencyEvent !== undefined
const { EventLog } = await import(`${DIST}sessions/event-log.js`)
/** How a session packs a record into its ring's slot (builds that buffer the records themselves). */
const slots = convertsOnAppend ? undefined : await import(`${DIST}sessions/event-slots.js`)

const [sessions, perSession] = process.argv.slice(2).map(Number)
if (!global.gc || !(sessions > 0) || !(perSession > 0)) {
  console.error('usage: node --expose-gc bench/event-heap.mjs SESSIONS EVENTS_PER_SESSION')
  process.exit(2)
}

const EVENT_SIZE = RECORD_SIZES[RecordType.event]
const AF_INET = 2

/** Record i, a rec_event of bpf/udplat.h (127.0.0.1 → 127.0.0.1, comm "udpwork"), written in place in `input` at the build's offsets. */
function eventRecord (input, i) {
  const b = input.subarray(i * EVENT_SIZE, (i + 1) * EVENT_SIZE)
  b.writeUInt16LE(RecordType.event, 0)
  b.writeUInt16LE(EVENT_SIZE, 2)
  const arrive = 5_000_000_000_000n + BigInt(i) * 1000n
  const returned = arrive + 40_000n + BigInt(i % 977)
  // The tracepoint plan's marks: arrive, enqueue, return (builds before the marks table stamped read at return).
  const marks = EVENT_FIELDS.marks === undefined
    ? [[EVENT_FIELDS.arriveNs, arrive], [EVENT_FIELDS.enqueueNs, arrive + 2_000n], [EVENT_FIELDS.readNs, returned], [EVENT_FIELDS.returnNs, returned]]
    : [[EVENT_FIELDS.marks, arrive], [EVENT_FIELDS.marks + 8, arrive + 2_000n], [EVENT_FIELDS.marks + 24, returned]]
  for (const [at, ns] of marks) b.writeBigUInt64LE(ns, at)
  const { flow } = EVENT_FIELDS
  b.writeBigUInt64LE(4242n, EVENT_FIELDS.cgroupId)
  b.set([127, 0, 0, 1], flow.saddr)
  b.set([127, 0, 0, 1], flow.daddr)
  b.writeUInt32LE(64, flow.len)
  b.writeUInt16LE(40000 + (i % 1000), flow.len + 4)
  b.writeUInt16LE(9999, flow.len + 6)
  b.writeUInt16LE(AF_INET, flow.len + 8)
  b.writeUInt32LE(1234, EVENT_FIELDS.pid)
  b.writeUInt32LE(1234, EVENT_FIELDS.tid)
  b.write('udpwork', EVENT_FIELDS.comm)
}

const clock = convertsOnAppend && realtimeClock(1_790_000_000_000_000_000n)
// The tracepoint plan's marks, as its hello names them.
const measured = measuredStages?.(['arrive', 'enqueue', 'return'])
// One buffer written in place: no per-record garbage is freed while the memory is measured.
const input = Buffer.alloc(perSession * EVENT_SIZE)
for (let i = 0; i < perSession; i++) eventRecord(input, i)

/** What Session#onRecord keeps of a record: its bytes in the ring (or, before, the event object built from it). */
function buffer (log, record) {
  if (convertsOnAppend) log.append((seq) => toLatencyEvent(record, seq, clock, measured))
  else log.append(record.bytes, slots.packRecord)
}

/** After a full GC, once the freed ArrayBuffers are counted as freed (their sweeping is deferred). */
async function settledMemory () {
  for (let i = 0; i < 3; i++) {
    global.gc()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return process.memoryUsage()
}

const before = await settledMemory()
const logs = []
for (let s = 0; s < sessions; s++) {
  const log = convertsOnAppend ? new EventLog(perSession) : new EventLog(perSession, slots.EVENT_SLOT_BYTES)
  const parser = new RecordParser()
  for (const record of parser.push(input)) buffer(log, record)
  logs.push(log)
}
const after = await settledMemory()
const events = sessions * perSession
console.log(JSON.stringify({
  sessions,
  events,
  heapBytesPerEvent: (after.heapUsed - before.heapUsed) / events,
  bufferBytesPerEvent: (after.arrayBuffers - before.arrayBuffers) / events,
  heapUsedMiB: after.heapUsed / 2 ** 20,
  rssMiB: after.rss / 2 ** 20,
  buffered: logs.reduce((sum, log) => sum + log.lastSeq, 0),
  // Used here so that it stays alive (and counted) until after the measurement.
  inputBytes: input.length
}))

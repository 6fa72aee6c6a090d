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
const { RecordParser } = await import(`${DIST}probe/records.js`)
const { measuredStages, realtimeClock, toLatencyEvent } = await import(`${DIST}probe/events.js`)
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

const REC_EVENT = 2
const EVENT_SIZE = 120
const AF_INET = 2

/** Record i, a rec_event of bpf/udplat.h (127.0.0.1 → 127.0.0.1, comm "udpwork"), written in place in `input`. */
function eventRecord (input, i) {
  const b = input.subarray(i * EVENT_SIZE, (i + 1) * EVENT_SIZE)
  b.writeUInt16LE(REC_EVENT, 0)
  b.writeUInt16LE(EVENT_SIZE, 2)
  const arrive = 5_000_000_000_000n + BigInt(i) * 1000n
  b.writeBigUInt64LE(arrive, 8)
  b.writeBigUInt64LE(arrive + 2_000n, 16)
  b.writeBigUInt64LE(arrive + 40_000n + BigInt(i % 977), 24)
  b.writeBigUInt64LE(arrive + 40_000n + BigInt(i % 977), 32)
  b.writeBigUInt64LE(4242n, 40)
  b.set([127, 0, 0, 1], 48)
  b.set([127, 0, 0, 1], 64)
  b.writeUInt32LE(1234, 80)
  b.writeUInt32LE(1234, 84)
  b.writeUInt32LE(64, 88)
  b.writeUInt16LE(40000 + (i % 1000), 92)
  b.writeUInt16LE(9999, 94)
  b.writeUInt16LE(AF_INET, 96)
  b.write('udpwork', 100)
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

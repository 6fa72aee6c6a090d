#!/usr/bin/env node
/**
 * V8 heap retained per buffered event, measured exactly: N binary event
 * records (rec_event, as the loader writes them, fields varying per datagram)
 * through the service's own RecordParser, toLatencyEvent and EventLog, with a
 * forced GC before and after. Prints one JSON line.
 *
 *   node --expose-gc bench/event-heap.mjs SESSIONS EVENTS_PER_SESSION
 */
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const DIST = process.env.UDPLAT_BENCH_DIST ? `${process.env.UDPLAT_BENCH_DIST.replace(/\/$/, '')}/` : `${ROOT}dist/`
const { RecordParser } = await import(`${DIST}probe/records.js`)
const { measuredStages, realtimeClock, toLatencyEvent } = await import(`${DIST}probe/events.js`)
const { EventLog } = await import(`${DIST}sessions/event-log.js`)

const [sessions, perSession] = process.argv.slice(2).map(Number)
if (!global.gc || !(sessions > 0) || !(perSession > 0)) {
  console.error('usage: node --expose-gc bench/event-heap.mjs SESSIONS EVENTS_PER_SESSION')
  process.exit(2)
}

const REC_EVENT = 2
const EVENT_SIZE = 120
const AF_INET = 2

/** One rec_event of bpf/udplat.h: 127.0.0.1 → 127.0.0.1, comm "udpwork". */
function eventRecord (i) {
  const b = Buffer.alloc(EVENT_SIZE)
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
  return b
}

const clock = realtimeClock(1_790_000_000_000_000_000n)
// The tracepoint plan's marks, as its hello names them.
const measured = measuredStages?.(['arrive', 'enqueue', 'return'])
const input = Buffer.concat(Array.from({ length: perSession }, (_, i) => eventRecord(i)))

global.gc()
const before = process.memoryUsage()
const logs = []
for (let s = 0; s < sessions; s++) {
  const log = new EventLog(perSession)
  const parser = new RecordParser()
  for (const record of parser.push(input)) log.append((seq) => toLatencyEvent(record, seq, clock, measured))
  logs.push(log)
}
global.gc()
const after = process.memoryUsage()
const events = sessions * perSession
console.log(JSON.stringify({
  sessions,
  events,
  heapBytesPerEvent: (after.heapUsed - before.heapUsed) / events,
  heapUsedMiB: after.heapUsed / 2 ** 20,
  rssMiB: after.rss / 2 ** 20,
  sample: logs[0].read(0, 1).items[0]
}))

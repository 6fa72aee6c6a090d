#!/usr/bin/env node
/**
 * A stand-in for udplat-probe that replays a recorded binary stream, so the
 * service can be measured alone (bench/pipeline.mjs runs the service with
 * UDPLAT_PROBE pointing here). Writes the recording's hello, then its data
 * records UDPLAT_BENCH_REPEAT times as fast as the pipe takes them, then waits
 * for SIGTERM and says bye, as the loader does. Its arguments are ignored,
 * but for --keep-hub: the service's hub keeper gets the hello, then an empty
 * stats record every --stats-interval-ms, as the hub answers the keeper.
 */
import { readFileSync, writeSync } from 'node:fs'

const REC_STATS = 4
const REC_BYE = 8
const stream = readFileSync(process.env.UDPLAT_BENCH_STREAM ?? '')
const repeat = Number(process.env.UDPLAT_BENCH_REPEAT ?? 1)
const helloSize = stream.readUInt16LE(2)
const sleeper = new Int32Array(new SharedArrayBuffer(4))

/** Writes all of buf to stdout, waiting out a full non-blocking pipe. */
function writeAll (buf) {
  let offset = 0
  while (offset < buf.length) {
    try {
      offset += writeSync(1, buf, offset, buf.length - offset)
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err
      Atomics.wait(sleeper, 0, 0, 1)
    }
  }
}

writeAll(stream.subarray(0, helloSize))
const data = stream.subarray(helloSize)
const keeper = process.argv.indexOf('--keep-hub') !== -1
if (!keeper) for (let i = 0; i < repeat; i++) writeAll(data)
if (keeper) {
  const answered = Buffer.alloc(112)
  answered.writeUInt16LE(REC_STATS, 0)
  answered.writeUInt16LE(answered.length, 2)
  const intervalAt = process.argv.indexOf('--stats-interval-ms')
  setInterval(() => writeAll(answered), intervalAt === -1 ? 1000 : Number(process.argv[intervalAt + 1]))
}

const bye = Buffer.alloc(8)
bye.writeUInt16LE(REC_BYE, 0)
bye.writeUInt16LE(8, 2)
process.on('SIGTERM', () => {
  writeAll(bye)
  process.exit(0)
})
// The loader runs until it is stopped; so does its stand-in, for at most an hour.
setTimeout(() => process.exit(0), 3600_000)

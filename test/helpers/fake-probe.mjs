#!/usr/bin/env node
// A stand-in for bpf/build/udplat-probe: same command line, same binary records
// (bpf/udplat.h), no kernel. Behaviour comes from the environment:
//   FAKE_PROBE_MODE    run (default) | error | silent | no-hello | die-after-hello | ignore-term | garbage
//   FAKE_PROBE_EVENTS  latency events to send after hello (default 0)
//   FAKE_PROBE_DROPS   drop events to send after them (default 0)
//   FAKE_PROBE_INFO    file to write { pid, argv } to, as JSON
import { writeFileSync } from 'node:fs'

const mode = process.env.FAKE_PROBE_MODE ?? 'run'
const eventCount = Number(process.env.FAKE_PROBE_EVENTS ?? 0)
const dropCount = Number(process.env.FAKE_PROBE_DROPS ?? 0)
if (process.env.FAKE_PROBE_INFO) writeFileSync(process.env.FAKE_PROBE_INFO, JSON.stringify({ pid: process.pid, argv: process.argv.slice(2) }))

const REALTIME_OFFSET_NS = 1_764_000_000_000_000_000n
const PLANS = { fentry: 1, kprobe: 2, tracepoint: 3 }
const AF_INET = 2

function record (type, size, fill) {
  const buf = Buffer.alloc(size)
  buf.writeUInt16LE(type, 0)
  buf.writeUInt16LE(size, 2)
  fill(buf)
  return buf
}

function hello () {
  const flag = process.argv.indexOf('--plan')
  const requested = flag === -1 ? 'auto' : process.argv[flag + 1]
  return record(1, 336, (b) => {
    b.writeUInt16LE(1, 4)
    b.writeUInt8(PLANS[requested] ?? PLANS.tracepoint, 6)
    b.writeUInt8(0b1111, 7)
    b.writeBigInt64LE(REALTIME_OFFSET_NS, 8)
    b.write('6.18.0-fake', 16)
    b.write('fake loader', 80)
  })
}

/** Event i: arrive at 1 s + i ms; stack 1 µs, queue 4 µs + i ns, copy 500 ns. */
function event (i) {
  const arrive = 1_000_000_000n + BigInt(i) * 1_000_000n
  return record(2, 120, (b) => {
    b.writeBigUInt64LE(arrive, 8)
    b.writeBigUInt64LE(arrive + 1000n, 16)
    b.writeBigUInt64LE(arrive + 5000n + BigInt(i), 24)
    b.writeBigUInt64LE(arrive + 5500n + BigInt(i), 32)
    b.writeBigUInt64LE((1n << 53n) + 1n, 40)
    b.set([127, 0, 0, 1], 48)
    b.set([127, 0, 0, 1], 64)
    b.writeUInt32LE(process.pid, 80)
    b.writeUInt32LE(process.pid, 84)
    b.writeUInt32LE(64, 88)
    b.writeUInt16LE(40000, 92)
    b.writeUInt16LE(9999, 94)
    b.writeUInt16LE(AF_INET, 96)
    b.write('receiver', 100)
  })
}

function drop (i) {
  return record(3, 112, (b) => {
    b.writeUInt32LE(6, 4)
    b.writeBigUInt64LE(2_000_000_000n + BigInt(i), 8)
    b.set([10, 0, 0, 1], 16)
    b.set([10, 0, 0, 2], 32)
    b.writeUInt32LE(1400, 48)
    b.writeUInt16LE(1234, 52)
    b.writeUInt16LE(9999, 54)
    b.writeUInt16LE(AF_INET, 56)
    b.write('SOCKET_RCVBUFF', 64)
  })
}

function stats () {
  const values = [3_000_000_000, eventCount * 10, eventCount, eventCount, 0, dropCount, 0, 0, 0]
  return record(4, 80, (b) => values.forEach((value, i) => b.writeBigUInt64LE(BigInt(value), 8 + 8 * i)))
}

function dropCountRecord () {
  return record(6, 64, (b) => {
    b.writeUInt32LE(6, 4)
    b.writeBigUInt64LE(BigInt(dropCount), 8)
    b.write('SOCKET_RCVBUFF', 16)
  })
}

function error (message) {
  return record(7, 264, (b) => {
    b.writeInt32LE(-1, 4)
    b.write(message, 8)
  })
}

const bye = () => record(8, 8, () => {})

function send (...records) {
  return new Promise((resolve) => process.stdout.write(Buffer.concat(records), resolve))
}

async function exit (code, ...records) {
  await send(...records)
  process.exit(code)
}

const stayAlive = () => setInterval(() => {}, 60_000)

switch (mode) {
  case 'error':
    process.stderr.write('libbpf: failed to load object\n')
    await exit(1, error('failed to load BPF object: Operation not permitted'))
    break
  case 'silent':
    process.stderr.write('fake: crashed before attaching\n')
    process.exit(3)
    break
  case 'no-hello':
    stayAlive()
    break
  default: {
    process.on('SIGTERM', () => {
      if (mode !== 'ignore-term') void exit(0, stats(), dropCountRecord(), bye())
    })
    const events = Array.from({ length: eventCount }, (_, i) => event(i))
    const drops = Array.from({ length: dropCount }, (_, i) => drop(i))
    await send(hello(), ...events, ...drops, stats(), dropCountRecord())
    if (mode === 'die-after-hello') await exit(1, error('ring buffer poll failed: Bad address'))
    if (mode === 'garbage') await send(record(99, 8, () => {}))
    stayAlive()
  }
}

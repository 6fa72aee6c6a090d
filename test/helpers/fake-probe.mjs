#!/usr/bin/env node
// A stand-in for bpf/build/udplat-probe: same command line, same binary records
// (bpf/udplat.h), no kernel. Behaviour comes from the environment:
//   FAKE_PROBE_MODE    run (default) | error | bad-arguments (refuses its command line, exit 2) | silent | no-hello | die-after-hello | ignore-term | garbage
//                      | close-stdout (closes its output after the first records and stays alive)
//                      | cut-record (after its first records, half a record, then exits 0: it died inside a write)
//                      | cut-record-at-term (at SIGTERM, its last record is cut in half)
//   FAKE_PROBE_EVENTS  events to send after hello, and again at each SIGUSR1 (default 0): of --direction's kind,
//                      latency (receive, the default), send, or path (both)
//   FAKE_PROBE_DROPS   drop events to send after them (default 0)
//   FAKE_PROBE_COMM    the comm of the task its events name (default, or empty: receiver, or sender for send events)
//   FAKE_PROBE_INFO    file to write { pid, argv, env } to, as JSON
//   FAKE_PROBE_MARKS   the hello's marks bitmask, bit i for the i-th of MARK_NAMES (default: arrive, enqueue,
//                      read, return, and for --direction send or both, the send marks); --marks NAMES replaces it
//   FAKE_PROBE_PLANS   what --list-plans prints: tracepoint (default) | no-btf | none | garbage
//   FAKE_PROBE_HUB     as --keep-hub: run (default: hello, then a stats record every --stats-interval-ms, as its hub
//                      answers its pings, then bye at SIGTERM) | error (fails to start)
//                      | die (says hello, then exits as if its hub had gone, after 200 ms)
//                      | stopped (says hello, then nothing: its hub answers no ping)
// Running, it repeats its stats record every --stats-interval-ms, as the real loader does.
import { writeFileSync } from 'node:fs'

const mode = process.env.FAKE_PROBE_MODE ?? 'run'
const eventCount = Number(process.env.FAKE_PROBE_EVENTS ?? 0)
const dropCount = Number(process.env.FAKE_PROBE_DROPS ?? 0)
const MARK_NAMES = ['send', 'queued', 'xmitStart', 'xmitDone', 'rx', 'arrive', 'enqueue', 'read', 'return', 'sent']
const bitsOf = (names) => names.reduce((bits, name) => bits | (1 << MARK_NAMES.indexOf(name)), 0)
const SEND_MARKS = bitsOf(['send', 'queued', 'xmitStart', 'xmitDone', 'sent'])
/** EVENT_RECEIVE, EVENT_SEND, or both. */
const direction = { receive: 1, send: 2, both: 3 }[option('--direction', 'receive')]
const marks = option('--marks', undefined)?.split(',').reduce((bits, name) => bits | (1 << MARK_NAMES.indexOf(name)), 0) ??
  Number(process.env.FAKE_PROBE_MARKS ?? bitsOf(['arrive', 'enqueue', 'read', 'return'])) | (direction & 2 ? SEND_MARKS : 0)
const statsIntervalMs = Number(option('--stats-interval-ms', 1000))
if (process.env.FAKE_PROBE_INFO) writeFileSync(process.env.FAKE_PROBE_INFO, JSON.stringify({ pid: process.pid, argv: process.argv.slice(2), env: process.env }))

/** The value after `flag` on the command line, else `fallback`. */
function option (flag, fallback) {
  const i = process.argv.indexOf(flag)
  return i === -1 ? fallback : process.argv[i + 1]
}

const PLAN_LISTS = {
  tracepoint: {
    kernel: '6.18.0-fake',
    btf: true,
    auto: 'tracepoint',
    plans: [
      { name: 'fentry', available: false, reason: 'fexit/__udp_enqueue_schedule_skb: Operation not permitted (-1)' },
      { name: 'kprobe', available: false, reason: 'kprobes not configured' },
      { name: 'tracepoint', available: true }
    ]
  },
  'no-btf': { kernel: '6.18.0-fake', btf: false, auto: null, plans: [] },
  none: {
    kernel: '5.4.0-fake',
    btf: true,
    auto: null,
    plans: ['fentry', 'kprobe', 'tracepoint'].map((name) => ({ name, available: false, reason: `no ${name}` }))
  }
}
if (process.argv.includes('--list-plans')) {
  const list = process.env.FAKE_PROBE_PLANS ?? 'tracepoint'
  if (list === 'garbage') {
    process.stderr.write('fake: cannot list plans\n')
    process.exit(4)
  }
  process.stdout.write(`${JSON.stringify(PLAN_LISTS[list])}\n`)
  process.exit(PLAN_LISTS[list].btf ? 0 : 1)
}

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
  const requested = option('--plan', 'auto')
  return record(1, 344, (b) => {
    b.writeUInt16LE(5, 4)
    b.writeUInt8(PLANS[requested] ?? PLANS.tracepoint, 6)
    b.writeUInt32LE(marks, 8)
    b.writeUInt32LE(direction, 12)
    b.writeBigInt64LE(REALTIME_OFFSET_NS, 16)
    b.write('6.18.0-fake', 24)
    b.write('fake loader', 88)
  })
}

const readMarked = (marks & bitsOf(['read'])) !== 0
/** The kind of event the session gets: EVENT_RECEIVE, EVENT_SEND, or, for both directions, EVENT_PATH. */
const kind = direction === 3 ? 4 : direction
const MARKS_AT = 184
const markAt = (name) => MARKS_AT + 8 * MARK_NAMES.indexOf(name)

/**
 * Event i: arrive at 1 s + i ms; stack 1 µs, queue 4 µs + i ns, copy 500 ns (no read mark when the plan has none).
 * A send or path event was sent 10 µs before arrive: 2 µs of stack, 3 µs of qdisc, 1 µs of driver; a path's
 * wire takes the rest.
 */
function event (i) {
  const arrive = 1_000_000_000n + BigInt(i) * 1_000_000n
  const returned = arrive + 5500n + BigInt(i)
  const sent = arrive - 10_000n
  return record(2, MARKS_AT + 8 * MARK_NAMES.length, (b) => {
    b.writeUInt32LE(kind, 4)
    b.writeBigUInt64LE((1n << 53n) + 1n, 8)
    b.set([127, 0, 0, 1], 16)
    b.set([127, 0, 0, 1], 32)
    b.writeUInt32LE(64, 48)
    b.writeUInt16LE(40000, 52)
    b.writeUInt16LE(9999, 54)
    b.writeUInt16LE(AF_INET, 56)
    b.writeUInt32LE(process.pid, 60)
    b.writeUInt32LE(process.pid, 64)
    b.write(process.env.FAKE_PROBE_COMM || (kind === 2 ? 'sender' : 'receiver'), 68)
    if (kind !== 1) {
      b.writeUInt32LE(process.pid, 160)
      b.writeUInt32LE(process.pid, 164)
      b.write('sender', 168)
      b.writeBigUInt64LE(sent, markAt('send'))
      b.writeBigUInt64LE(sent + 2000n, markAt('queued'))
      b.writeBigUInt64LE(sent + 5000n, markAt('xmitStart'))
      b.writeBigUInt64LE(sent + 6000n, markAt('xmitDone'))
      b.writeBigUInt64LE(sent + 7000n, markAt('sent'))
    }
    if (kind === 2) return
    b.writeBigUInt64LE(arrive, markAt('arrive'))
    b.writeBigUInt64LE(arrive + 1000n, markAt('enqueue'))
    b.writeBigUInt64LE(readMarked ? arrive + 5000n + BigInt(i) : 0n, markAt('read'))
    b.writeBigUInt64LE(returned, markAt('return'))
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

const matched = eventCount * 10

function stats () {
  const values = [3_000_000_000, matched, eventCount, eventCount, 0, dropCount, 0, 0, 0, 0, 0, 0, 0]
  return record(4, 112, (b) => values.forEach((value, i) => b.writeBigUInt64LE(BigInt(value), 8 + 8 * i)))
}

/**
 * Per stage (in the order of UDPLAT_STAGES), slot → count: every matched datagram as 1 µs of stack, queue split
 * 9:1 between slots 13 and 23, 500 ns of copy; no send stage.
 */
const HIST_SLOTS = [
  {},
  { 10: matched },
  { 13: matched - eventCount, 23: eventCount },
  readMarked ? { 9: matched } : {},
  { 13: matched - eventCount, 23: eventCount },
  {}, {}, {}, {}, {}, {},
  // The reader's states: nothing measured.
  {}, {}, {}
]

function hists () {
  return HIST_SLOTS.map((slots, stage) => record(5, 328, (b) => {
    b.writeUInt16LE(stage, 4)
    for (const [slot, count] of Object.entries(slots)) b.writeBigUInt64LE(BigInt(count), 8 + 8 * Number(slot))
  }))
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
const half = (whole) => whole.subarray(0, whole.length / 2)

function send (...records) {
  return new Promise((resolve) => process.stdout.write(Buffer.concat(records), resolve))
}

async function exit (code, ...records) {
  await send(...records)
  process.exit(code)
}

const stayAlive = () => setInterval(() => {}, 60_000)

if (process.argv.includes('--keep-hub')) {
  const hubMode = process.env.FAKE_PROBE_HUB ?? 'run'
  if (hubMode === 'error') await exit(1, error('failed to start the hub: fake refusal'))
  process.on('SIGTERM', () => { void exit(0, bye()) })
  await send(hello())
  if (hubMode === 'die') setTimeout(() => { void exit(1, error('the hub exited')) }, 200)
  // The real keeper's stats record of each answer has no session to count.
  if (hubMode !== 'stopped') setInterval(() => { void send(record(4, 112, () => {})) }, statsIntervalMs)
  stayAlive()
} else {
  await session()
}

/** A session's records, as the real loader sends them, in the way FAKE_PROBE_MODE says. */
async function session () {
  switch (mode) {
    case 'error':
      process.stderr.write('libbpf: failed to load object\n')
      await exit(1, error('failed to load BPF object: Operation not permitted'))
      break
    case 'bad-arguments':
      await exit(2, error("bad --cgroup '/gone': path must be normalized"))
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
        if (mode !== 'ignore-term') void exit(0, stats(), ...hists(), dropCountRecord(), mode === 'cut-record-at-term' ? half(stats()) : bye())
      })
      let sent = 0
      // In batches, so a million events need no more memory than ten thousand.
      const sendEvents = async () => {
        for (const end = sent + eventCount; sent < end;) {
          const batch = Math.min(10_000, end - sent)
          await send(...Array.from({ length: batch }, (_, i) => event(sent + i)))
          sent += batch
        }
      }
      let burst = Promise.resolve()
      process.on('SIGUSR1', () => { burst = burst.then(sendEvents) })
      await send(hello())
      await sendEvents()
      await send(...Array.from({ length: dropCount }, (_, i) => drop(i)), stats(), ...hists(), dropCountRecord())
      if (mode === 'die-after-hello') await exit(1, error('ring buffer poll failed: Bad address'))
      if (mode === 'garbage') await send(record(99, 8, () => {}))
      if (mode === 'cut-record') await exit(0, half(event(sent)))
      if (mode === 'close-stdout') {
        process.stdout.destroy()
        stayAlive()
      } else {
        setInterval(() => { void send(stats()) }, statsIntervalMs)
      }
    }
  }
}

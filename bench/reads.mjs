#!/usr/bin/env node
/**
 * What udplat adds to the reads of the application it traces: each read's own
 * call, from the reader's clock right before recvmsg to right after (udpwork
 * recv, at real-time priority, its memory locked), for a session's first
 * read, a new reader's first read in a session already running, and every
 * later read, against the same reads with no session, in the same run. The
 * reader waits in poll for each datagram, 2 ms apart, so each read finds a
 * CPU that idled meanwhile, as an application's paced reads do.
 * Configurations alternate within each round, in rotated order.
 */
import { emit, fmt, freeUdpPort, median, options, percentile, preflight, progress, reportHeader, run, start, startService, table, UDPWORK, verdict } from './common.mjs'

const USAGE = 'usage: node bench/reads.mjs [--rounds N] [--datagrams N] [--out FILE]'
const opts = options(USAGE, { rounds: 20, datagrams: 6, out: '' })
preflight({ needFlood: false })

const REALTIME = ['chrt', '--fifo', '10']
const TARGET_EXTRA_US = 10

const CONFIGS = [
  { key: 'none', label: 'no session (baseline)' },
  { key: 'session', label: 'a new session, its first reader' },
  { key: 'reader', label: 'a running session, a new reader' }
]

const service = await startService()
const port = await freeUdpPort()
const spec = { filter: { ports: [port] }, thresholdUs: 0 }

/** One new receiver's reads of `datagrams` sent 2 ms apart: each call's duration in ns, in order. */
async function reads () {
  const receiver = start(REALTIME[0], [...REALTIME.slice(1), UDPWORK, 'recv', '--bind', `127.0.0.1:${port}`, '--count', String(opts.datagrams), '--timeout-ms', '5000'])
  await receiver.waitLine((line) => line.includes('"ready"'), 5000, 'its ready line')
  await run(REALTIME[0], [...REALTIME.slice(1), UDPWORK, 'send', '--to', `127.0.0.1:${port}`, '--count', String(opts.datagrams), '--interval-us', '2000'])
  const { code } = await receiver.exited
  const read = receiver.lines.map(({ line }) => JSON.parse(line)).filter((r) => r.len !== undefined)
  if (code !== 0 || read.length !== opts.datagrams) throw new Error(`the receiver read ${read.length} of ${opts.datagrams} datagrams (exit ${code})`)
  return read.map((r) => r.returnMonoNs - r.callMonoNs)
}

/** The session kept across rounds for new readers, its own first reader gone; null while none runs. */
let running = null
async function noSession () {
  if (running) await service.deleteSession(running.id)
  running = null
}

const MEASURE = {
  none: async () => { await noSession(); return await reads() },
  session: async () => {
    await noSession()
    const { session } = await service.createSession(spec)
    try { return await reads() } finally { await service.deleteSession(session.id) }
  },
  reader: async () => {
    if (!running) {
      running = (await service.createSession(spec)).session
      await reads()
    }
    return await reads()
  }
}

const firsts = Object.fromEntries(CONFIGS.map((c) => [c.key, []]))
const laters = Object.fromEntries(CONFIGS.map((c) => [c.key, []]))
for (let r = 0; r < opts.rounds; r++) {
  for (const config of CONFIGS.map((_, i) => CONFIGS[(i + r) % CONFIGS.length])) {
    const ns = await MEASURE[config.key]()
    firsts[config.key].push(ns[0])
    laters[config.key].push(...ns.slice(1))
  }
  progress(`round ${r + 1}/${opts.rounds}: first read ${CONFIGS.map((c) => `${c.key} ${(firsts[c.key].at(-1) / 1000).toFixed(1)} us`).join(', ')}`)
}
await noSession()
await service.stop()

const us = (ns) => fmt(ns / 1000, 1)
const rows = []
for (const [what, samples] of [['first read', firsts], ['later reads', laters]]) {
  const base = median(samples.none)
  for (const config of CONFIGS) {
    const values = samples[config.key]
    const extraUs = (median(values) - base) / 1000
    rows.push([
      what,
      config.label,
      String(values.length),
      us(median(values)),
      us(percentile(values, 99)),
      us(Math.max(...values)),
      config.key === 'none' ? '' : fmt(extraUs, 1),
      config.key === 'none' ? '' : `≤ ${TARGET_EXTRA_US} us: ${verdict(extraUs, TARGET_EXTRA_US, true)}`
    ])
  }
}
emit([
  reportHeader('The traced application\'s reads'),
  `Each read's call, recvmsg from the reader's clock before to after; ${opts.rounds} rounds, each a new reader of ${opts.datagrams} datagrams 2 ms apart per configuration; one session of every mark, threshold 0.`,
  '',
  table(['reads', 'configuration', 'n', 'p50 us', 'p99 us', 'max us', 'p50 added us', 'target'], rows)
].join('\n'), opts.out)

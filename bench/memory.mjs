#!/usr/bin/env node
/**
 * Memory: the service's RSS idle, with 32 sessions, and with 32 sessions ×
 * 10 000 buffered events each; each loader's RSS. A fresh service per round;
 * ratios are to the same round's idle service. Then, to explain the service
 * figure, the V8 heap each buffered event retains (bench/event-heap.mjs), and
 * where one loader's resident pages are (/proc/PID/smaps).
 */
import { readFileSync } from 'node:fs'
import {
  UDPWORK, ROOT, emit, fmt, freeUdpPort, hubPids, median, memoryOf, options, pollUntil, preflight, progress, reportHeader, run,
  SERVICE_NODE_ARGS, sleep, spread, start, startService, table, verdict
} from './common.mjs'

const USAGE = 'usage: node bench/memory.mjs [--rounds N] [--sessions N] [--events N] [--node-args="FLAGS"] [--out FILE]'
const opts = options(USAGE, { rounds: 5, sessions: 32, events: 10_000, 'node-args': SERVICE_NODE_ARGS.join(' '), out: '' })
/** Node flags for the service: --node-args="" measures a bare `node dist/server.js`. */
const nodeArgs = opts['node-args'].split(' ').filter(Boolean)
preflight()

const SEND_INTERVAL_US = 200 // 5 000 datagrams/s: every loader and the service keep up, nothing is lost in the kernel

/** Fills every session to `events` buffered events: datagrams to the sessions' port, read by a sink. */
async function fill (service, sessions, port) {
  const sink = start(UDPWORK, ['sink', '--bind', `127.0.0.1:${port}`, '--seconds', '120'])
  try {
    await sink.waitLine((line) => line.includes('"ready"'), 5000, 'ready')
    // Bounded: a few passes, each sending what the emptiest session still lacks.
    for (let pass = 0; pass < 5; pass++) {
      const states = await Promise.all(sessions.map((s) => service.getSession(s.id)))
      const lacking = opts.events - Math.min(...states.map((s) => s.lastSeq))
      if (lacking <= 0) return states
      await run(UDPWORK, ['send', '--to', `127.0.0.1:${port}`, '--count', String(lacking + 100), '--interval-us', String(SEND_INTERVAL_US)],
        { timeoutMs: 120_000 })
      await pollUntil(() => Promise.all(sessions.map((s) => service.getSession(s.id))),
        (all) => all.every((s) => s.lastSeq >= opts.events), 5000, 200)
    }
    throw new Error(`the sessions did not reach ${opts.events} events each`)
  } finally {
    await sink.stop(1000)
  }
}

/** The largest mappings of a process by resident size, from /proc/PID/smaps. */
function residentMappings (pid, top = 6) {
  const mappings = []
  let current
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (header) {
      current = { name: header[1] || '[anonymous]', rssKiB: 0 }
      mappings.push(current)
    } else if (current && line.startsWith('Rss:')) {
      current.rssKiB = Number(line.split(/\s+/)[1])
    }
  }
  const byName = new Map()
  for (const m of mappings) byName.set(m.name, (byName.get(m.name) ?? 0) + m.rssKiB)
  return [...byName].sort((a, b) => b[1] - a[1]).slice(0, top)
}

/** RSS of a bare node:http server a second after it listens: what Node itself costs here. */
async function bareNodeRss () {
  const proc = start(process.execPath, ['-e', "require('http').createServer((q, s) => s.end()).listen(0, '127.0.0.1', () => console.log('ready'))"])
  try {
    await proc.waitLine((line) => line === 'ready', 10_000, 'ready')
    await sleep(1000)
    return memoryOf(proc.pid).rssMiB
  } finally {
    await proc.stop()
  }
}

const rounds = []
let loaderMappings
for (let r = 0; r < opts.rounds; r++) {
  const bare = await bareNodeRss()
  const service = await startService({ env: { UDPLAT_MAX_SESSIONS: String(Math.max(64, opts.sessions)) }, nodeArgs })
  try {
    const port = await freeUdpPort()
    await sleep(1000)
    const idle = memoryOf(service.pid)
    const sessions = await service.createSessions(opts.sessions, { filter: { ports: [port] }, thresholdUs: 0, bufferEvents: opts.events })
    await sleep(1000)
    const empty = memoryOf(service.pid)
    const emptyLoaders = service.loaderPids().map((pid) => memoryOf(pid).rssMiB)
    const states = await fill(service, sessions, port)
    await sleep(1500)
    const full = memoryOf(service.pid)
    const loaderPids = service.loaderPids()
    const loaders = loaderPids.map((pid) => memoryOf(pid))
    const hubs = hubPids().map((pid) => memoryOf(pid))
    loaderMappings ??= residentMappings(loaderPids[0])
    const kernelLost = states.reduce((sum, s) => sum + s.counts.kernelLost, 0)
    rounds.push({ bare, idle, empty, full, emptyLoaders, loaders, hubs, kernelLost, buffered: states.reduce((sum, s) => sum + Math.min(s.lastSeq, opts.events), 0) })
    progress(`round ${r + 1}/${opts.rounds}: service ${fmt(idle.rssMiB, 1)} → ${fmt(empty.rssMiB, 1)} → ${fmt(full.rssMiB, 1)} MiB, loader median ${fmt(median(loaders.map((l) => l.rssMiB)), 1)} MiB`)
    await service.deleteSessions(sessions)
  } finally {
    await service.stop()
  }
}

progress('V8 heap per buffered event')
const heapLines = await run(process.execPath, ['--expose-gc', `${ROOT}bench/event-heap.mjs`, String(opts.sessions), String(opts.events)], { timeoutMs: 120_000 })
const heap = JSON.parse(heapLines.at(-1))

const col = (fn) => rounds.map(fn)
const idle = median(col((r) => r.idle.rssMiB))
const fullRss = median(col((r) => r.full.rssMiB))
const loaderRss = median(col((r) => median(r.loaders.map((l) => l.rssMiB))))
const loaderMax = Math.max(...col((r) => Math.max(...r.loaders.map((l) => l.rssMiB))))
const events = opts.sessions * opts.events
const report = [
  reportHeader('Memory'),
  `${opts.rounds} rounds, each with a fresh service: idle, then ${opts.sessions} sessions (threshold 0, ` +
    `bufferEvents ${fmt(opts.events)}, one port), then every session filled with ${fmt(opts.events)} events by datagrams sent at ` +
    `${fmt(1e6 / SEND_INTERVAL_US)}/s. RSS is VmRSS from /proc; medians over rounds; ratios to the same round's idle service. ` +
    `The service runs as \`node ${nodeArgs.length > 0 ? `${nodeArgs.join(' ')} ` : ''}dist/server.js\`.`,
  '',
  table(['process', 'state', 'RSS MiB (median)', 'min–max', 'ratio to idle service', 'target'], [
    ['bare node:http server', 'idle', fmt(median(col((r) => r.bare)), 1), spread(col((r) => r.bare), 1), fmt(median(col((r) => r.bare / r.idle.rssMiB)), 2), ''],
    ['service', 'idle', fmt(idle, 1), spread(col((r) => r.idle.rssMiB), 1), '1.00', ''],
    ['service', `${opts.sessions} sessions, empty`, fmt(median(col((r) => r.empty.rssMiB)), 1), spread(col((r) => r.empty.rssMiB), 1),
      fmt(median(col((r) => r.empty.rssMiB / r.idle.rssMiB)), 2), ''],
    ['service', `${opts.sessions} × ${fmt(opts.events)} events`, fmt(fullRss, 1), spread(col((r) => r.full.rssMiB), 1),
      fmt(median(col((r) => r.full.rssMiB / r.idle.rssMiB)), 2), `≤ 120 MB (${fmt(120e6 / 2 ** 20, 1)} MiB): ${verdict(fullRss, 120e6 / 2 ** 20, true)}`],
    ['service', 'peak (VmHWM) over the round', fmt(median(col((r) => r.full.hwmMiB)), 1), spread(col((r) => r.full.hwmMiB), 1), '', ''],
    ['loader', 'running, median of the sessions', fmt(loaderRss, 2), spread(col((r) => median(r.loaders.map((l) => l.rssMiB))), 2),
      '', `≤ 6 MB (${fmt(6e6 / 2 ** 20, 2)} MiB): ${verdict(loaderRss, 6e6 / 2 ** 20, true)}`],
    ['loader', 'largest of all rounds', fmt(loaderMax, 2), '', '', ''],
    ['loader', 'peak (VmHWM), median', fmt(median(col((r) => median(r.loaders.map((l) => l.hwmMiB)))), 2), '', '', ''],
    ['hub (one for all sessions, holds the programs)', 'running', fmt(median(col((r) => r.hubs[0]?.rssMiB ?? NaN)), 2),
      spread(col((r) => r.hubs[0]?.rssMiB ?? NaN), 2), '', `hubs per round: ${col((r) => r.hubs.length).join(', ')}`]
  ]),
  '',
  `Events buffered per round (median): ${fmt(median(col((r) => r.buffered)))} of ${fmt(events)}; kernelLost while filling: ${fmt(median(col((r) => r.kernelLost)))}. ` +
    `Service RSS added per buffered event: ${fmt(median(col((r) => (r.full.rssMiB - r.empty.rssMiB) * 2 ** 20 / events)))} bytes.`,
  '',
  `Why, for the service: \`node --expose-gc bench/event-heap.mjs ${opts.sessions} ${opts.events}\` pushes the same number of binary event records ` +
    'through the service\'s RecordParser and EventLog as a session buffers them and measures the memory around it after forced GCs: ' +
    `**${fmt(heap.heapBytesPerEvent)} bytes of V8 heap and ${fmt(heap.bufferBytesPerEvent ?? 0)} bytes of Buffer memory per buffered event** ` +
    `(${fmt(heap.heapUsedMiB, 1)} MiB of heap, ${fmt(heap.rssMiB, 1)} MiB RSS for ${fmt(heap.events)} events), against 120 bytes for the binary record it came from.`,
  '',
  'Why, for the loader: its largest resident mappings (/proc/PID/smaps, one loader, KiB):',
  '',
  table(['mapping', 'Rss KiB'], loaderMappings.map(([name, kib]) => [name, fmt(kib)]))
].join('\n')
emit(report, opts.out)

#!/usr/bin/env node
/**
 * Does a stream's backlog starve everyone else? Event-stream clients in
 * processes of their own drain a session's buffer as fast as the socket
 * delivers, while this process asks GET /healthz every 10 ms; the table gives
 * /healthz latency during the drain, and the drain's rate. The loader is the
 * fake one (test/helpers/fake-probe.mjs), which fills the buffer at once:
 * what is measured is the service alone.
 */
import {
  ROOT, emit, fmt, median, options, percentile, progress, reportHeader, sleep, standInProbe, start, startService, table, verdict
} from './common.mjs'

const USAGE = 'usage: node bench/fairness.mjs [--rounds N] [--out FILE]'
const opts = options(USAGE, { rounds: 3, out: '' })

const SCENARIOS = [
  { label: '300 clients × 4 000 events', clients: 300, events: 4000 },
  { label: '4 clients × 300 000 events', clients: 4, events: 300_000 },
  { label: '1 client × 300 000 events', clients: 1, events: 300_000 }
]
const CLIENT_PROCESSES = 4

/** Runs `clients` event-stream readers from `after=0`, each to seq `last`; once all have it, prints "done FIRST LAST": the first byte's and the last's epoch ms. */
const CLIENTS = `
const [url, clients, last] = [process.argv[1], Number(process.argv[2]), process.argv[3]]
const http = require('node:http')
const agent = new http.Agent({ maxSockets: Infinity })
const needle = Buffer.from('id: ' + last + '\\n')
let left = clients
let firstMs
for (let i = 0; i < clients; i++) {
  http.get(url, { agent, headers: { accept: 'text/event-stream' } }, (res) => {
    let tail = Buffer.alloc(0)
    res.on('data', (chunk) => {
      firstMs ??= performance.timeOrigin + performance.now()
      const found = Buffer.concat([tail, chunk.subarray(0, needle.length)]).includes(needle) || chunk.includes(needle)
      tail = chunk.subarray(-needle.length)
      if (!found) return
      res.destroy()
      if (--left === 0) { console.log('done ' + firstMs + ' ' + (performance.timeOrigin + performance.now())); process.exit(0) }
    })
  })
}
`

async function scenario ({ clients, events }) {
  const service = await startService({
    env: {
      UDPLAT_PROBE: standInProbe(`${ROOT}test/helpers/fake-probe.mjs`, { FAKE_PROBE_EVENTS: String(events) }),
      UDPLAT_MAX_BUFFERED_EVENTS: String(Math.max(1_000_000, events))
    }
  })
  try {
    const { session } = await service.createSession({ bufferEvents: Math.max(100, events) })
    for (let i = 0; (await service.getSession(session.id)).lastSeq < events; i++) {
      if (i > 600) throw new Error('the fake loader did not fill the buffer within a minute')
      await sleep(100)
    }
    const url = `${service.base}/v1/sessions/${session.id}/events`
    const perProcess = Math.ceil(clients / CLIENT_PROCESSES)
    const readers = Array.from({ length: Math.min(CLIENT_PROCESSES, clients) }, (_, i) =>
      start(process.execPath, ['-e', CLIENTS, url, String(Math.min(perProcess, clients - i * perProcess)), String(events)]))
    const healthMs = []
    let done = 0
    const finished = Promise.all(readers.map(async (reader) => {
      const line = await reader.waitLine((text) => text.startsWith('done '), 120_000, 'done')
      done++
      const [, first, last] = line.line.split(' ').map(Number)
      return { first, last }
    }))
    while (done < readers.length) {
      const t0 = performance.now()
      await fetch(`${service.base}/healthz`)
      healthMs.push(performance.now() - t0)
      await sleep(10)
    }
    // From the first byte any client got to the last byte of all: streams served one after another count as such.
    const spans = await finished
    const drainMs = Math.max(...spans.map((span) => span.last)) - Math.min(...spans.map((span) => span.first))
    return { healthMs, eventsPerS: clients * events / (drainMs / 1000) }
  } finally {
    await service.stop()
  }
}

const rows = []
for (const s of SCENARIOS) {
  const rounds = []
  for (let round = 0; round < opts.rounds; round++) {
    rounds.push(await scenario(s))
    progress(`${s.label}, round ${round + 1}: /healthz p99 ${fmt(percentile(rounds.at(-1).healthMs, 99), 1)} ms, ${fmt(rounds.at(-1).eventsPerS)} events/s`)
  }
  const p99 = median(rounds.map((r) => percentile(r.healthMs, 99)))
  const rate = median(rounds.map((r) => r.eventsPerS))
  const target = s.clients === 1 ? `≥ 600 000 events/s: ${verdict(rate, 600_000)}` : `/healthz p99 ≤ 100 ms: ${verdict(p99, 100, true)}`
  rows.push([
    s.label, fmt(median(rounds.map((r) => r.healthMs.length))), fmt(median(rounds.map((r) => median(r.healthMs))), 1), fmt(p99, 1),
    fmt(median(rounds.map((r) => Math.max(...r.healthMs))), 1), fmt(rate), target
  ])
}

emit([
  reportHeader('Event streams and everyone else'),
  `Clients in ${CLIENT_PROCESSES} processes of their own read a session's buffer over SSE from seq 1 as fast as the socket delivers, ` +
    'while the benchmark asks GET /healthz every 10 ms until the last client has the last event. The loader is the fake one ' +
    `(test/helpers/fake-probe.mjs), which fills the buffer before the clients start. ${opts.rounds} rounds, each with a fresh service; medians.`,
  '',
  table(['clients', '/healthz asked', 'p50 ms', 'p99 ms', 'max ms', 'events/s to the clients', 'target'], rows)
].join('\n'), opts.out)

#!/usr/bin/env node
/**
 * Do streams that drain a backlog stall everyone else, or each other? The
 * service runs alone on CPU 0; event-stream clients (one process) start
 * together on CPU 1 and read a session's backlog as fast as the socket
 * delivers, while a prober at real-time priority on CPU 1 asks GET /healthz
 * every 20 ms (test/helpers/stream-fairness.mjs). The table gives /healthz
 * latency from the moment the clients connect until they are done or the
 * window closes, the spread of bytes between streams (most / least, when the
 * first stream was done or at the window's end), and the rate to the clients.
 * The loader is the fake one (test/helpers/fake-probe.mjs), which fills the
 * buffer before the clients start: what is measured is the service alone.
 */
import { execFileSync } from 'node:child_process'
import { measureStreams } from '../test/helpers/stream-fairness.mjs'
import {
  ROOT, emit, fmt, median, options, percentile, progress, reportHeader, sleep, standInProbe, startService, table, verdict
} from './common.mjs'

const USAGE = 'usage: node bench/fairness.mjs [--rounds N] [--window-ms MS] [--clients 10,50,100,1] [--out FILE]'
const opts = options(USAGE, { rounds: 3, 'window-ms': 5000, clients: '10,50,100,1', out: '' })

const SERVICE_CPU = 0
const CLIENT_CPU = 1
const PROBE_EVERY_MS = 20
const SCENARIOS = [
  { label: '10 clients × 100 000 events', clients: 10, events: 100_000 },
  { label: '50 clients × 100 000 events', clients: 50, events: 100_000 },
  { label: '100 clients × 100 000 events', clients: 100, events: 100_000 },
  // Its rate to the last event: the window only bounds it.
  { label: '1 client × 300 000 events', clients: 1, events: 300_000, windowMs: 60_000 }
]

async function scenario ({ clients, events, windowMs = opts['window-ms'] }) {
  const service = await startService({
    env: {
      UDPLAT_PROBE: standInProbe(`${ROOT}test/helpers/fake-probe.mjs`, { FAKE_PROBE_EVENTS: String(events) }),
      UDPLAT_MAX_BUFFERED_EVENTS: String(Math.max(1_000_000, events))
    }
  })
  try {
    // Every thread of the service on its CPU; the loader it starts inherits it, and is idle once it has sent its events.
    execFileSync('taskset', ['-a', '-c', '-p', String(SERVICE_CPU), String(service.pid)], { stdio: 'ignore' })
    const { session } = await service.createSession({ bufferEvents: Math.max(100, events) })
    for (let i = 0; (await service.getSession(session.id)).lastSeq < events; i++) {
      if (i > 600) throw new Error('the fake loader did not fill the buffer within a minute')
      await sleep(100)
    }
    const run = await measureStreams({
      servicePid: service.pid,
      streamUrl: `${service.base}/v1/sessions/${session.id}/events`,
      probeUrl: `${service.base}/healthz`,
      clients,
      lastSeq: events,
      windowMs,
      probeEveryMs: PROBE_EVERY_MS,
      cpu: CLIENT_CPU
    })
    return {
      healthMs: run.probesMs,
      ownMs: run.serviceMs,
      spread: Math.max(...run.bytes) / Math.min(...run.bytes),
      // One client: events from its first byte to its last event. MiB/s: what the streams had read at the checkpoint.
      eventsPerS: clients === 1 && run.doneMs[0] !== null ? (events - 1) / ((run.doneMs[0] - run.firstMs[0]) / 1000) : NaN,
      mibPerS: run.bytes.reduce((sum, bytes) => sum + bytes, 0) / 2 ** 20 / (run.checkpointMs / 1000)
    }
  } finally {
    await service.stop()
  }
}

const rows = []
for (const s of SCENARIOS.filter(({ clients }) => opts.clients.split(',').map(Number).includes(clients))) {
  const rounds = []
  for (let round = 0; round < opts.rounds; round++) {
    const r = await scenario(s)
    rounds.push(r)
    progress(`${s.label}, round ${round + 1}: /healthz p99 ${fmt(percentile(r.healthMs, 99), 1)} ms, max ${fmt(Math.max(...r.healthMs), 1)} ms ` +
      `(the service's own: ${fmt(percentile(r.ownMs, 99), 1)}, ${fmt(Math.max(...r.ownMs), 1)}), ` +
      `spread ${fmt(r.spread, 2)}, ${fmt(r.mibPerS, 1)} MiB/s${s.clients === 1 ? `, ${fmt(r.eventsPerS)} events/s` : ''}`)
  }
  const p99 = median(rounds.map((r) => percentile(r.healthMs, 99)))
  const max = Math.max(...rounds.map((r) => Math.max(...r.healthMs)))
  const ownP99 = median(rounds.map((r) => percentile(r.ownMs, 99)))
  const ownMax = Math.max(...rounds.map((r) => Math.max(...r.ownMs)))
  const spread = Math.max(...rounds.map((r) => r.spread))
  const rate = median(rounds.map((r) => r.eventsPerS))
  const target = s.clients === 1
    ? `≥ 600 000 events/s: ${verdict(rate, 600_000)}`
    : `p99 ≤ 50 ms: ${verdict(p99, 50, true)}; max ≤ 100 ms: ${verdict(max, 100, true)}; spread ≤ 2: ${verdict(spread, 2, true)}`
  rows.push([
    s.label, fmt(median(rounds.map((r) => r.healthMs.length))), fmt(median(rounds.map((r) => median(r.healthMs))), 1), fmt(p99, 1), fmt(max, 1),
    fmt(median(rounds.map((r) => median(r.ownMs))), 1), fmt(ownP99, 1), fmt(ownMax, 1),
    s.clients === 1 ? '–' : fmt(spread, 2), fmt(median(rounds.map((r) => r.mibPerS)), 1), s.clients === 1 ? fmt(rate) : '–', target
  ])
}

emit([
  reportHeader('Event streams and everyone else'),
  `The service runs alone on CPU ${SERVICE_CPU} (taskset); the clients, in one process, and a prober at real-time priority (chrt -f) ` +
    `run on CPU ${CLIENT_CPU}. The clients ask for a session's events from seq 1 together and read as fast as the socket delivers, ` +
    `each until the last event or for ${opts['window-ms']} ms (one client: to the last event); the prober asks GET /healthz every ${PROBE_EVERY_MS} ms, and the table counts ` +
    'the asks that started from the moment the clients connected until they were done. "Own": each ask less the time the service\'s ' +
    'main thread waited meanwhile for a CPU that another task had (its schedstat run delay): the host\'s part, left out. ' +
    'Targets on the wall-clock figures. Spread: the most bytes a stream had over the ' +
    'least, when the first stream was done or the window closed. The loader is the fake one (test/helpers/fake-probe.mjs), which fills ' +
    `the buffer before the clients start. ${opts.rounds} rounds, each with a fresh service; medians, but max and spread: the worst round.`,
  '',
  table(['clients', '/healthz asked', 'p50 ms', 'p99 ms', 'max ms', 'own p50 ms', 'own p99 ms', 'own max ms', 'spread', 'MiB/s to the clients', 'events/s (1 client)', 'target'], rows)
].join('\n'), opts.out)

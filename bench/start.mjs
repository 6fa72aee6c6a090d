#!/usr/bin/env node
/**
 * Session start latency: POST /v1/sessions → 201 (the service answers once
 * the probes are attached). First from idle, as a user starts one session
 * during an incident: each POST after the previous session was deleted and a
 * pause. Then cycling, as automation does: each POST as soon as the previous
 * session's DELETE has answered, so that nothing of a deletion's teardown is
 * left to wait out. Then over 50 sessions kept running, so the later ones
 * attach beside the earlier ones. Alternating with each POST, in the same run: the loader
 * alone (spawn → hello on stdout, with programs of its own), the cost floor
 * without a hub; and every few sessions bpftrace running the peer script
 * (spawn → its BEGIN probe, which runs after every probe is attached).
 */
import {
  NEVER_US, PROBE, emit, fmt, freeUdpPort, median, options, percentile, preflight, progress, reportHeader, sleep, start,
  startPeer, startService, table, verdict
} from './common.mjs'

const USAGE = 'usage: node bench/start.mjs [--sessions N] [--idle N] [--idle-pause-ms MS] [--cycles N] [--peer-every K] [--out FILE]'
const opts = options(USAGE, { sessions: 50, idle: 16, 'idle-pause-ms': 300, cycles: 32, 'peer-every': 5, out: '' })
preflight({ needFlood: false, needBpftrace: opts['peer-every'] > 0 })

const port = await freeUdpPort()
const service = await startService({ env: { UDPLAT_MAX_SESSIONS: String(Math.max(64, opts.sessions + 1)) } })

/** POST /v1/sessions, which must answer a running session. */
async function createRunning () {
  const { session, ms } = await service.createSession({ filter: { ports: [port] }, thresholdUs: NEVER_US })
  if (session.state !== 'running') throw new Error(`session ${session.id} answered 201 in state ${session.state}`)
  return { session, ms }
}

/** DELETE /v1/sessions/{id}; how long the answer took. */
async function timedDelete (id) {
  const t0 = performance.now()
  await service.deleteSession(id)
  return performance.now() - t0
}

/** The loader by itself, as the service runs it: spawn until the hello record (json format: the first line). */
async function loaderAlone () {
  const proc = start(PROBE, ['--format', 'json', '--port', String(port), '--threshold-us', String(NEVER_US)])
  try {
    const hello = await proc.waitLine((line) => line.includes('"hello"'), 10_000, 'hello')
    return hello.ms - proc.startedMs
  } finally {
    await proc.stop()
  }
}

const idleMs = []
const cycleMs = []
const cycleDeleteMs = []
const postMs = []
const deleteMs = []
const aloneMs = []
const peerMs = []
const sessions = []
try {
  for (let i = 0; i < opts.idle; i++) {
    await sleep(opts['idle-pause-ms'])
    const { session, ms } = await createRunning()
    idleMs.push(ms)
    await service.deleteSession(session.id)
  }
  progress(`${opts.idle} sessions from idle: POST p50 ${fmt(median(idleMs), 1)} ms`)
  await sleep(opts['idle-pause-ms'])
  for (let i = 0; i < opts.cycles; i++) {
    const { session, ms } = await createRunning()
    if (i > 0) cycleMs.push(ms)
    cycleDeleteMs.push(await timedDelete(session.id))
  }
  progress(`${opts.cycles} sessions, each right after the previous one's DELETE: POST p50 ${fmt(median(cycleMs), 1)} ms`)
  for (let i = 0; i < opts.sessions; i++) {
    aloneMs.push(await loaderAlone())
    const { session, ms } = await createRunning()
    sessions.push(session)
    postMs.push(ms)
    if (opts['peer-every'] > 0 && i % opts['peer-every'] === 0) {
      const peer = await startPeer(port, NEVER_US)
      peerMs.push(peer.attachMs)
      await peer.proc.stop(10_000)
    }
    if ((i + 1) % 10 === 0) progress(`${i + 1}/${opts.sessions} sessions: POST p50 ${fmt(median(postMs), 1)} ms, loader alone p50 ${fmt(median(aloneMs), 1)} ms`)
  }
} finally {
  for (const session of sessions) deleteMs.push(await timedDelete(session.id))
  await service.stop()
}

const aloneP50 = median(aloneMs)
const row = (label, values, target) => [
  label, values.length, fmt(median(values), 1), fmt(percentile(values, 99), 1), fmt(Math.min(...values), 1), fmt(Math.max(...values), 1),
  fmt(median(values) / aloneP50, 2), target ?? ''
]
const p50 = median(postMs)
const idleP50 = median(idleMs)
const cycleP50 = median(cycleMs)
const report = [
  reportHeader('Session start latency'),
  `From idle: ${opts.idle} sessions, each created ${opts['idle-pause-ms']} ms after the previous one was deleted, with no other session ` +
    '(the service keeps its hub warm: programs loaded, attached only while a session runs). ' +
    `Then ${opts.cycles} sessions cycled: each POST sent as soon as the previous session's DELETE answered (the first, after a pause, not counted). ` +
    `Then ${opts.sessions} sessions created one after another and kept running (filter: one port, threshold ${fmt(NEVER_US)} µs), ` +
    'then deleted. Alternating with each of those POSTs: the loader alone (programs of its own, no hub); every ' +
    `${opts['peer-every']} sessions: bpftrace with bench/peer.bt. All attach beside the sessions already running.`,
  '',
  table(['what', 'n', 'p50 ms', 'p99 ms', 'min ms', 'max ms', 'p50 ratio to the loader alone', 'target'], [
    row('POST /v1/sessions → 201, from idle', idleMs, `p50 ≤ 40 ms: ${verdict(idleP50, 40, true)}; stretch ≤ 20 ms: ${verdict(idleP50, 20, true)}`),
    row('POST /v1/sessions → 201, right after the previous DELETE', cycleMs, `p50 ≤ 15 ms: ${verdict(cycleP50, 15, true)}`),
    row('DELETE /v1/sessions/{id} → 204, cycling', cycleDeleteMs),
    row('POST /v1/sessions → 201, beside running sessions', postMs, `p50 ≤ 40 ms: ${verdict(p50, 40, true)}`),
    row('loader alone: spawn → hello', aloneMs),
    ...(peerMs.length > 0 ? [row('bpftrace peer: spawn → BEGIN', peerMs)] : []),
    row('DELETE /v1/sessions/{id}', deleteMs)
  ]),
  '',
  `The service adds ${fmt(p50 - aloneP50, 1)} ms at the median to the loader's own start.`
].join('\n')
emit(report, opts.out)

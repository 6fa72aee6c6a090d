#!/usr/bin/env node
/**
 * Per-datagram overhead, and the bpftrace peer in the same run.
 *
 * A loopback UDP flood (udpwork flood → udpwork sink, fixed duration) with no
 * session, 1, 8 and 32 sessions matching it with a threshold it never reaches,
 * 1 session emitting every datagram, 1 session on another port, and the
 * bpftrace peer (bench/peer.bt). Configurations alternate within each round,
 * in a rotated order; each ratio is to the baseline of the same round, and the
 * tables give medians over rounds. Then a separate pass with
 * kernel.bpf_stats_enabled=1 (which itself costs two clock reads per program
 * run, so it is kept out of the throughput rounds) gives each program's run
 * time per hit.
 */
import {
  NEVER_US, bpfPrograms, emit, enableBpfStats, flood, fmt, foreignTracingPrograms, freeUdpPort, median, options,
  parseCpus, pollUntil, preflight, programDeltas, progress, reportHeader, spread, startService, table, verdict
} from './common.mjs'
import { CONFIGS, attach } from './configs.mjs'

const USAGE = 'usage: node bench/overhead.mjs [--rounds N] [--seconds S] [--len BYTES] [--rcvbuf BYTES] [--cpus FLOOD,SINK|none] [--stats-rounds N] [--only KEY,KEY] [--out FILE]'
const opts = options(USAGE, { rounds: 5, seconds: 3, len: 64, rcvbuf: 0, cpus: '0,1', 'stats-rounds': 3, only: '', out: '' })
const cpus = parseCpus(opts.cpus)

const only = opts.only ? new Set(['baseline', ...opts.only.split(',')]) : undefined
const configs = CONFIGS.filter((c) => !only || only.has(c.key))
if (only && configs.length !== only.size) throw new Error(`--only knows ${CONFIGS.map((c) => c.key).join(', ')}`)

preflight({ needBpftrace: configs.some((c) => c.peer) })
const service = await startService()
const port = await freeUdpPort()
let otherPort = await freeUdpPort()
while (otherPort === port) otherPort = await freeUdpPort()

/** Attaches what config asks for, floods, detaches; with stats, also the per-program deltas. */
async function runConfig (config, { stats = false } = {}) {
  const attached = await attach(config, { service, port, otherPort })
  try {
    const foreign = foreignTracingPrograms(attached.ownIds)
    const before = stats ? bpfPrograms() : undefined
    const result = await flood({ port, seconds: opts.seconds, len: opts.len, cpus, rcvbufBytes: opts.rcvbuf })
    const deltas = stats ? programDeltas(before, bpfPrograms(), attached.ownIds) : []
    let counts
    if (config.key === 'emit') {
      // Wait for the loader's next stats record and for the service to take in what the ring buffer held.
      let last = -1
      const session = await pollUntil(() => service.getSession(attached.sessions[0].id), (s) => {
        const settled = s.counts.slow === last && s.lastSeq >= s.counts.emitted
        last = s.counts.slow
        return settled
      }, 5000, 1100)
      counts = { ...session.counts, lastSeq: session.lastSeq }
    }
    return { ...result, attachMs: attached.attachMs, foreign, deltas, counts }
  } finally {
    await attached.detach()
  }
}

const rounds = []
progress(`flood on 127.0.0.1:${port}, ${opts.seconds} s per run, ${opts.rounds} rounds of ${configs.length} configurations`)
for (let r = 0; r < opts.rounds; r++) {
  const round = {}
  // Rotate the order so that no configuration always runs first or right after a heavy one.
  for (let i = 0; i < configs.length; i++) {
    const config = configs[(i + r) % configs.length]
    round[config.key] = await runConfig(config)
    progress(`round ${r + 1}/${opts.rounds} ${config.label}: ${fmt(round[config.key].receivedPerSecond)} datagrams/s received`)
  }
  rounds.push(round)
}

const statRuns = []
if (opts['stats-rounds'] > 0) {
  enableBpfStats(true)
  for (let r = 0; r < opts['stats-rounds']; r++) {
    const round = {}
    for (const config of configs) {
      if (config.key === 'baseline') continue
      round[config.key] = await runConfig(config, { stats: true })
      progress(`bpf_stats round ${r + 1}/${opts['stats-rounds']} ${config.label}`)
    }
    statRuns.push(round)
  }
}
await service.stop()

// ---- report ----

const perRound = (key, fn) => rounds.map((round) => fn(round[key], round.baseline))
const nsPerDatagram = (perSecond) => 1e9 / perSecond

const throughputRows = configs.map((config) => {
  const ratios = perRound(config.key, (run, base) => run.receivedPerSecond / base.receivedPerSecond)
  const sentRatios = perRound(config.key, (run, base) => run.sentPerSecond / base.sentPerSecond)
  const addedNs = perRound(config.key, (run, base) => nsPerDatagram(run.receivedPerSecond) - nsPerDatagram(base.receivedPerSecond))
  const cpuAddedNs = perRound(config.key, (run, base) => run.cpuNsPerDatagram - base.cpuNsPerDatagram)
  const ratio = median(ratios)
  const baseline = config.key === 'baseline'
  return [
    config.label,
    fmt(median(perRound(config.key, (run) => run.receivedPerSecond))),
    fmt(ratio, 3),
    spread(ratios, 3),
    baseline ? '–' : fmt(median(addedNs)),
    fmt(median(perRound(config.key, (run) => run.cpuNsPerDatagram))),
    baseline ? '–' : fmt(median(cpuAddedNs)),
    fmt(median(sentRatios), 3),
    fmt(median(perRound(config.key, (run) => 1000 * run.irqWork / run.received)), 1),
    fmt(median(perRound(config.key, (run) => 100 * (1 - run.received / run.sent))), 1),
    config.target ? `≥ ${config.target.toFixed(2)}: ${verdict(ratio, config.target)}` : ''
  ]
})

const foreign = rounds.flatMap((round) => Object.values(round).map((run) => run.foreign))

const sections = [
  reportHeader('Per-datagram overhead (loopback UDP flood)'),
  `Flood: \`udpwork flood --len ${opts.len}\` to 127.0.0.1:${port}, \`udpwork sink\` reading it, ${opts.seconds} s per run, ` +
    `CPUs ${cpus ? `${cpus[0]} (flood) and ${cpus[1]} (sink)` : 'not pinned'}. ${opts.rounds} rounds; medians; ` +
    'each ratio is to the baseline of the same round. Sessions are created through the service (`POST /v1/sessions`, ' +
    `threshold ${fmt(NEVER_US)} µs unless said otherwise); the peer is \`bpftrace bench/peer.bt PORT THRESHOLD_US\`.`,
  '',
  'Throughput is datagrams received per second of flood; on loopback the sender\'s CPU also runs the receive stack ' +
    '(netif_receive_skb, the socket enqueue), the sink\'s CPU the read. "Wall ns added" is 1e9/throughput minus the baseline\'s: ' +
    'the time each datagram costs more on the slower of the two CPUs. "CPU ns per datagram" is the CPU time of flood, sink ' +
    '(`perf stat -e task-clock`) and ksoftirqd over the datagrams received: what each delivered datagram costs on both CPUs together, ' +
    'so it also shows the read-side cost that a sender-bound flood hides from the throughput. ' +
    '"IRQ work" counts IWI interrupts (/proc/interrupts) during the flood: each is a ring buffer waking its reader (or other irq_work).',
  '',
  table(['configuration', 'received/s', 'ratio', 'ratio min–max', 'wall ns added per datagram', 'CPU ns per datagram', 'CPU ns added', 'sent/s ratio', 'IRQ work per 1k datagrams', 'loss %', 'target'], throughputRows),
  '',
  `Tracing programs of other processes attached during the runs: median ${median(foreign)}, max ${Math.max(...foreign)}` +
    `${Math.max(...foreign) > 0 ? ' — they run for every packet too, so these figures carry their cost; rerun on a quiet machine.' : '.'}`
]

const attachRows = configs.filter((c) => c.key === 's1' || c.peer).map((config) => [
  config.peer ? 'bpftrace 0.17 (bench/peer.bt)' : 'udplat (POST /v1/sessions → 201)',
  fmt(median(perRound(config.key, (run) => run.attachMs)), 1),
  fmt(median(perRound(config.key, (run, base) => run.receivedPerSecond / base.receivedPerSecond)), 3),
  fmt(median(perRound(config.key, (run, base) => nsPerDatagram(run.receivedPerSecond) - nsPerDatagram(base.receivedPerSecond)))),
  fmt(median(perRound(config.key, (run, base) => run.cpuNsPerDatagram - base.cpuNsPerDatagram)))
])
if (attachRows.length > 0) {
  sections.push('', '### Peer: udplat and bpftrace on the same flood, same rounds', '',
    'Attach: from the request (udplat) or the process start (bpftrace) until the probes are attached; bpftrace prints "ready" from its BEGIN probe, which runs after every probe is attached.',
    '', table(['tool', 'attach ms', 'flood ratio', 'wall ns added per datagram', 'CPU ns added per datagram'], attachRows))
}

if (rounds[0].emit) {
  const counts = rounds.map((round) => round.emit.counts).filter(Boolean)
  const c = (field) => median(counts.map((x) => x[field]))
  const slowIdentity = counts.every((x) => x.slow === x.emitted + x.kernelLost)
  // Every event the kernel emitted reaches the service: latency events plus drop events.
  const deliveredIdentity = counts.every((x) => x.lastSeq === x.emitted + x.drops - x.dropsLost)
  sections.push('', '### The session emitting every datagram (threshold 0): its counts after the flood, medians over rounds', '',
    'Drops are the flood\'s datagrams the sink\'s full receive buffer refused; each is also a `drop` event.', '',
    table(['matched', 'slow', 'emitted', 'kernelLost', 'lost %', 'drops', 'dropsLost', 'events in the service (lastSeq)', 'slow = emitted + kernelLost', 'lastSeq = emitted + drops − dropsLost'], [[
      fmt(c('matched')), fmt(c('slow')), fmt(c('emitted')), fmt(c('kernelLost')),
      fmt(median(counts.map((x) => 100 * x.kernelLost / x.slow)), 1),
      fmt(c('drops')), fmt(c('dropsLost')), fmt(c('lastSeq')),
      slowIdentity ? 'every round' : 'NOT in every round', deliveredIdentity ? 'every round' : 'NOT in every round'
    ]]))
}

if (statRuns.length > 0) {
  const rows = []
  for (const config of configs) {
    if (config.key === 'baseline') continue
    const names = [...new Set(statRuns.flatMap((round) => round[config.key].deltas.map((d) => d.name)))].sort()
    let totalNs = 0
    for (const name of names) {
      const per = statRuns.map((round) => {
        const run = round[config.key]
        const d = run.deltas.find((x) => x.name === name)
        return d && { nsPerHit: d.runTimeNs / d.runCount, hitsPerDatagram: d.runCount / d.programs / run.sent, nsPerDatagram: d.runTimeNs / run.received }
      }).filter(Boolean)
      const nsPerDatagramAll = median(per.map((p) => p.nsPerDatagram))
      totalNs += nsPerDatagramAll
      rows.push([config.label, name, fmt(median(per.map((p) => p.hitsPerDatagram)), 2), fmt(median(per.map((p) => p.nsPerHit))), fmt(nsPerDatagramAll)])
    }
    rows.push([config.label, '**all programs**', '', '', `**${fmt(totalNs)}**`])
  }
  sections.push('', `### BPF run time per program (kernel.bpf_stats_enabled=1, separate pass of ${statRuns.length} rounds, medians)`, '',
    'From `bpftool prog show -j` (run_time_ns, run_cnt) before and after each flood, for the programs the loaders, their hub (or bpftrace) hold; ' +
    'hits are per datagram sent (the service\'s sessions share one hub\'s programs; standalone loaders and bpftrace hold their own); ns per datagram is the run time of the programs over the datagrams received.',
    '', table(['configuration', 'program', 'hits per sent datagram', 'ns per hit', 'ns per received datagram'], rows))
}

emit(sections.join('\n'), opts.out)

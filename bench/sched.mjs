#!/usr/bin/env node
/**
 * What a session's hooks on the scheduler and the system calls cost the host:
 * context switches per second (`perf bench sched pipe`: two tasks
 * ping-ponging over a pipe, two switches and a read and a write each per round
 * trip) with no session, with one session that takes what its readers do and
 * every mark (the default: sched_switch and sched_wakeup hooked, and for
 * return the receive system calls' exit, which puts every system call of the
 * host on the kernel's slower path), one without return, and one that takes
 * neither return nor its readers (`reader: false`). No task of the benchmark
 * reads a traced socket, so each switch costs the hooks a lookup that finds
 * nothing: the cost every task of the host pays. Configurations alternate
 * within each round; each ratio is to the baseline of the same round.
 */
import { NEVER_US, emit, fmt, freeUdpPort, median, options, preflight, progress, reportHeader, run, spread, startService, table, verdict } from './common.mjs'

const USAGE = 'usage: node bench/sched.mjs [--rounds N] [--loops N] [--out FILE]'
const opts = options(USAGE, { rounds: 7, loops: 300_000, out: '' })
preflight({ needFlood: false })

const WITHOUT_RETURN = ['rx', 'arrive', 'enqueue', 'read']
const CONFIGS = [
  { key: 'baseline', label: 'no session (baseline)' },
  { key: 'reader', label: '1 session, every mark, reader on (default)', reader: true },
  { key: 'noreturn', label: '1 session, every mark but return, reader on', reader: true, marks: WITHOUT_RETURN, target: 0.95 },
  { key: 'noreader', label: '1 session, every mark but return, reader: false', reader: false, marks: WITHOUT_RETURN }
]

const service = await startService()
const port = await freeUdpPort()

/** Switches per second of `perf bench sched pipe`, from its ops/sec (one op: a round trip, two switches). */
async function switchesPerSecond () {
  const lines = await run('perf', ['bench', 'sched', 'pipe', '-l', String(opts.loops)], { timeoutMs: 120_000 })
  const ops = lines.map((line) => /(\d+) ops\/sec/.exec(line)).find(Boolean)
  if (!ops) throw new Error(`perf bench printed no ops/sec: ${lines.join(' / ')}`)
  return 2 * Number(ops[1])
}

const rounds = []
for (let r = 0; r < opts.rounds; r++) {
  const round = {}
  // Rotated, so that no configuration always runs first.
  for (const config of CONFIGS.map((_, i) => CONFIGS[(i + r) % CONFIGS.length])) {
    const sessions = config.reader === undefined
      ? []
      : await service.createSessions(1, { filter: { ports: [port] }, thresholdUs: NEVER_US, reader: config.reader, ...(config.marks ? { marks: config.marks } : {}) })
    try {
      round[config.key] = await switchesPerSecond()
    } finally {
      await service.deleteSessions(sessions)
    }
  }
  rounds.push(round)
  progress(`round ${r + 1}/${opts.rounds}: ${CONFIGS.map((c) => `${c.key} ${fmt(round[c.key])}/s`).join(', ')}`)
}
await service.stop()

const rows = CONFIGS.map((config) => {
  const ratios = rounds.map((round) => round[config.key] / round.baseline)
  const ratio = median(ratios)
  return [
    config.label,
    fmt(median(rounds.map((round) => round[config.key]))),
    ratio.toFixed(3),
    spread(ratios, 3),
    config.target ? `≥ ${config.target.toFixed(2)}: ${verdict(ratio, config.target)}` : ''
  ]
})
emit([
  reportHeader('Context switches with the reader\'s scheduler hooks'),
  `perf bench sched pipe -l ${opts.loops}, ${opts.rounds} rounds; medians over rounds.`,
  '',
  table(['configuration', 'switches/s', 'ratio', 'ratio min–max', 'target'], rows)
].join('\n'), opts.out)

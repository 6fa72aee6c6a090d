#!/usr/bin/env node
/**
 * Where the time goes under the flood with one configuration: `perf record
 * -a -g` (cpu-clock, every CPU) for the length of the flood, then the symbols
 * with the most self time (BPF programs appear as bpf_prog_<tag>_<name>), and
 * the stacks folded one a line (`a;b;c count`) for flamegraph.pl or
 * speedscope. For diagnosis, not for RESULTS.md's tables.
 *
 *   node bench/profile.mjs --config s1 [--seconds 3] [--top 30] [--folded FILE]
 */
import { rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { flood, fmt, freeUdpPort, options, parseCpus, preflight, progress, run, start, startService } from './common.mjs'
import { attach, configByKey } from './configs.mjs'

const USAGE = 'usage: node bench/profile.mjs --config baseline|s1|s8|s32|emit|other|peer [--seconds S] [--len BYTES] [--cpus FLOOD,SINK|none] [--top N] [--folded FILE]'
const opts = options(USAGE, { config: 's1', seconds: 3, len: 64, cpus: '0,1', top: 30, folded: '' })
const config = configByKey(opts.config)
const cpus = parseCpus(opts.cpus)
preflight({ needBpftrace: Boolean(config.peer) })

const service = await startService()
const port = await freeUdpPort()
const otherPort = await freeUdpPort()
const data = join(tmpdir(), `udplat-bench-${process.pid}-perf.data`)
let result
try {
  const attached = await attach(config, { service, port, otherPort })
  try {
    const perf = start('perf', ['record', '-a', '-g', '-e', 'cpu-clock', '-F', '1999', '-o', data, '--', 'sleep', String(opts.seconds)])
    result = await flood({ port, seconds: opts.seconds, len: opts.len, cpus })
    await perf.exited
  } finally {
    await attached.detach()
  }
} finally {
  await service.stop()
}
progress(`${config.label}: ${fmt(result.receivedPerSecond)} datagrams/s received, ${fmt(result.sentPerSecond)} sent`)

// Only the flood's own processes: on loopback the receive stack runs in the sender's context (or ksoftirqd's).
const comms = 'udpwork,ksoftirqd/0,ksoftirqd/1'
const report = await run('perf', ['report', '-i', data, '--comms', comms, '--no-children', '--sort', 'symbol', '--stdio', '--percent-limit', '0.3', '-g', 'none'], { timeoutMs: 120_000 })
const top = report.filter((line) => /^\s+[\d.]+%/.test(line)).slice(0, opts.top).map((line) => line.replace(/\s+-\s+-\s*$/, '').trimEnd())
console.log(`# ${config.label}: self time by symbol in ${comms}, percent of all samples (perf record -a -g -e cpu-clock, ${opts.seconds} s flood)\n`)
console.log(top.join('\n'))

if (opts.folded) {
  const script = await run('perf', ['script', '-i', data, '-F', 'comm,ip,sym'], { timeoutMs: 300_000 })
  const folded = new Map()
  let comm
  let frames = []
  const flush = () => {
    if (comm !== undefined && frames.length > 0) {
      const key = [comm, ...frames.reverse()].join(';')
      folded.set(key, (folded.get(key) ?? 0) + 1)
    }
    comm = undefined
    frames = []
  }
  for (const line of script) {
    if (line.trim() === '') flush()
    else if (!/^\s/.test(line)) { flush(); comm = line.trim().split(/\s+/)[0] } else frames.push(line.trim().split(/\s+/).slice(1).join(' ').replace(/\+0x[0-9a-f]+$/, '') || '[unknown]')
  }
  flush()
  writeFileSync(opts.folded, [...folded].map(([stack, n]) => `${stack} ${n}`).join('\n') + '\n')
  progress(`folded stacks in ${opts.folded}`)
}
rmSync(data, { force: true })

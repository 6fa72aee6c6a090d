import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

// The fentry and kprobe plans cannot run on this host: scripts/vmtest proves them inside Debian kernels under qemu.
const ROOT = fileURLToPath(new URL('../..', import.meta.url))

// Each check asserts what its ground truth guarantees, so no kernel needs a second boot. PLAN: every datagram's
// return inside the reader's call, its first mark on the kernel's receive stamp (test/vm/compare.awk); nic: the NIC's
// plumbing; nic-quiet-PLAN: with CPU1 idle, the backlogs' median under 100 us and every one below the smallest
// starved one; nic-starved-PLAN: backlog the slowest stage and at least the spinner's hold, NET_RX in ksoftirqd,
// waitedBehind the spinner (test/vm/nic.awk); send-PLAN: one send event per datagram sent through the NIC, every
// send mark, each qdisc stage inside the span of the kernel's transmit stamps (test/vm/send.awk); path-PLAN: one
// path event per datagram over loopback, every stage, inside both ends' calls (test/vm/path.awk).
const checksOf = (plan: string): string[] => [plan, `nic-quiet-${plan}`, `nic-starved-${plan}`, `send-${plan}`, `path-${plan}`]
const KERNELS = ['6.1', '6.12']
/** What each kernel series' every check must say. */
const EXPECTED = new Map(KERNELS.flatMap((kernel) => [
  ...['vm', 'nic', ...checksOf('fentry'), ...checksOf('kprobe'), 'auto', 'shared'].map((check) => [`${kernel} ${check}`, 'pass'] as const),
  // The tracepoints sk_data_ready and sock_recv_length arrived in 6.3.
  ...checksOf('tracepoint').map((check) => [`${kernel} ${check}`, kernel === '6.1' ? 'gap' : 'pass'] as const)
]))

// Keyed by series, since the script falls back to a newer ABI when the archive drops the pinned one.
const series = (kernel: string): string => /^(\d+\.\d+)\./.exec(kernel)?.[1] ?? kernel

/** Runs scripts/vmtest on every kernel series; its table, printed, and each row's result. */
function vmtest (): Map<string, string> {
  const run = spawnSync(`${ROOT}scripts/vmtest`, [], { encoding: 'utf8', timeout: 240_000 })
  const table = readFileSync(`${ROOT}test/vm/build/results.txt`, 'utf8')
  console.log(table)
  const rows = table.trim().split('\n').slice(1).map((line) => line.split(/\s+/))
  const results = new Map(rows.map(([kernel, check, result]) => [`${series(kernel!)} ${check}`, result!]))
  // A run that failed with every row as expected failed somewhere no row says.
  if (run.status !== 0 && [...EXPECTED].every(([key, result]) => results.get(key) === result)) {
    throw new Error(`scripts/vmtest failed: ${run.stderr.slice(-2000)}`)
  }
  return results
}

it('every attach plan loads, attaches and measures on Debian 6.1 and 6.12 kernels, over loopback and through a virtio-net NIC with a starved softirq, on the receive and the send side, except documented gaps, and --shared loaders share one hub', () => {
  const results = vmtest()
  for (const [key, result] of EXPECTED) expect(results.get(key), key).toBe(result)
}, 600_000)

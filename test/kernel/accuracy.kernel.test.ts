import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNetns, type Netns } from './netns.js'
import { startProbe, type ProbeEvent } from './probe.js'
import { percentile, send, startReceiver, type Received } from './workload.js'

// Reported total (rx → return) against the receiver's own clock: SO_TIMESTAMPNS, which the kernel takes in
// netif_rx right before the rx mark on loopback and veth, → recvmsg's return.
const DELAYS_MS = [0, 5, 20]
const READS = [{ mode: 'single', batch: 1, recvmmsg: false }, { mode: 'batch', batch: 4, recvmmsg: false }, { mode: 'mmsg', batch: 4, recvmmsg: true }]
const COUNT = 100
// Each receiver's first datagram is a warm-up, sent before the COUNT measured (see measure).
const SENT = COUNT + 1
const P99_LIMIT_US = 10
const REALTIME = ['chrt', '--fifo', '10']

let netns: Netns
beforeAll(() => { netns = createNetns() })
afterAll(() => { netns.remove() })

interface Case { delayMs: number, mode: string, batch: number, recvmmsg: boolean, port: number }

function cases (basePort: number): Case[] {
  const all: Case[] = []
  for (const delayMs of DELAYS_MS) {
    for (const read of READS) all.push({ delayMs, ...read, port: basePort + all.length })
  }
  return all
}

const endpoint = (address: string, port: number): string => address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`
const portOf = (endpoint: string): number => Number(endpoint.slice(endpoint.lastIndexOf(':') + 1))

describe.each([
  { transport: 'loopback', family: 'ipv4', basePort: 21000, address: () => '127.0.0.1', inNs: false },
  { transport: 'loopback', family: 'ipv6', basePort: 21020, address: () => '::1', inNs: false },
  { transport: 'veth', family: 'ipv4', basePort: 21040, address: () => netns.nsV4, inNs: true },
  { transport: 'veth', family: 'ipv6', basePort: 21060, address: () => netns.nsV6, inNs: true }
])('accuracy over $transport $family', ({ transport, family, basePort, address, inNs }) => {
  it(`keeps p99 |total - receiver's wait| within ${P99_LIMIT_US} us for every delay and read mode`, async () => {
    const rows: string[] = []
    let failing = cases(basePort)
    // A case over the limit runs once more, under a probe of its own: on a shared VM an interrupt or a stolen vCPU
    // between recvmsg's return and the receiver's clock read puts a few tens of microseconds into the ground truth
    // itself, now and then; an error of udplat's own (a stage not measured, a mark in the wrong place) fails both runs.
    for (const attempt of ['', ' (again)']) {
      if (failing.length === 0) break
      const outcome = await measure(failing, address(), inNs)
      failing = []
      for (const { c, errorsUs } of outcome) {
        const p50 = percentile(errorsUs, 50)
        const p99 = percentile(errorsUs, 99)
        rows.push(`${transport.padEnd(8)} ${family} ${String(c.delayMs).padStart(3)} ms ${c.mode.padEnd(6)} n=${errorsUs.length}  p50 ${p50.toFixed(1).padStart(6)} us  p99 ${p99.toFixed(1).padStart(6)} us  max ${Math.max(...errorsUs).toFixed(1).padStart(6)} us${attempt}`)
        if (p99 > P99_LIMIT_US) failing.push(c)
      }
    }
    console.log(`|reported total - receiver wait|:\n${rows.join('\n')}`)
    expect(failing.map((c) => `${c.delayMs} ms ${c.mode}`), rows.join('\n')).toEqual([])
  })
})

// One probe for the cases given, each run in turn; each datagram's error in microseconds, per case.
async function measure (all: Case[], address: string, inNs: boolean): Promise<Array<{ c: Case, errorsUs: number[] }>> {
  const probe = await startProbe(['--threshold-us', '0', ...all.flatMap((c) => ['--port', String(c.port)])])
  // One case at a time: on this 2-CPU host, nine real-time receivers and nine real-time senders at once kept each
  // other off the CPUs between recvmsg's return and the receiver's clock read, which is the error measured.
  const runs = []
  for (const c of all) {
    const receiver = await startReceiver({
      bind: endpoint(address, c.port),
      count: SENT,
      delayMs: c.delayMs,
      batch: c.batch,
      recvmmsg: c.recvmmsg,
      // Real-time priority for receiver and sender (whose send runs the softirq on loopback and veth), so that
      // no other task runs between the kernel's timestamp and arrive, or between recvmsg's return and the clock read.
      prefix: [...(inNs ? netns.exec : []), ...REALTIME]
    })
    // Datagrams 2 ms apart: with delay 0 the reader waits on an empty queue, with delays they pile up.
    // Each has its own length, which says which datagram an event describes.
    const sport = await send(endpoint(address, c.port), SENT, { len: 64, lenCycle: SENT, intervalUs: 2000, prefix: REALTIME })
    runs.push({ c, sport, truth: await receiver.done })
  }
  const run = await probe.stop()

  let missing = 0
  const outcome = runs.map(({ c, sport, truth }) => {
    const label = `delay ${c.delayMs} ${c.mode}`
    const events = new Map(run.events
      .filter((e: ProbeEvent) => portOf(e.dst) === c.port && portOf(e.src) === sport)
      .map((e) => [e.len, e]))
    expect(truth, label).toHaveLength(SENT)
    // A read can dequeue a datagram before the enqueuing CPU reaches sk_data_ready: it is counted as untracked, never misreported.
    expect(SENT - events.size, label).toBeLessThanOrEqual(1)
    missing += SENT - events.size
    // recvmmsg returns once for the whole batch, after each datagram's own read: carry each total to the batch's end.
    const batchEndNs = new Map<number, number>()
    for (const t of truth) {
      const e = events.get(t.len)
      if (e !== undefined) batchEndNs.set(t.returnNs, Math.max(batchEndNs.get(t.returnNs) ?? 0, e.returnNs!))
    }
    // The first datagram of each receiver is a warm-up: on this VM, when the receiver was asleep in its first wait,
    // the receiver's clock is often read about 50 us after udplat's return mark, a one-time cost no later read shows.
    const errorsUs = truth.slice(1).flatMap((t: Received) => {
      const e = events.get(t.len)
      return e === undefined ? [] : [Math.abs(e.totalNs! + batchEndNs.get(t.returnNs)! - e.returnNs! - t.waitNs) / 1000]
    })
    return { c, errorsUs }
  })
  expect(run.stats.untracked + run.stats.stale).toBe(missing)
  expect(run.stats.slow).toBe(run.stats.emitted + run.stats.kernelLost)
  return outcome
}

import { execFileSync } from 'node:child_process'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createNetns, type Netns } from './netns.js'
import { startProbe, type ProbeEvent } from './probe.js'
import { attachedProgramIds, percentile, programIdsOf, programNames, runTool, startReceiver, UDPWORK } from './workload.js'

// The sending side against the kernel's own transmit timestamps (SO_TIMESTAMPING: SCHED before the qdisc,
// SOFTWARE in the driver, right after net_dev_start_xmit), through a veth pair into a namespace whose host end
// is shaped by tbf at 1 Mbit/s: 1 200-byte datagrams leave it 10 ms apart. Ports 27000-27099 are this file's.
const RATE = '1mbit'
/** A 1 200-byte datagram on the wire (UDP, IPv4, Ethernet headers), at 1 Mbit/s. */
const WIRE_NS = (1200 + 8 + 20 + 14) * 8 * 1000
/** Sender and receiver at real-time priority: a preemption between a clock read and a mark is not udplat's error. */
const REALTIME = ['chrt', '--fifo', '10']
/** The tools read CLOCK_MONOTONIC through the vDSO, udplat through ktime_get_mono_fast_ns() (accuracy.kernel.test.ts). */
const CLOCK_SLACK_NS = 1000

interface Sent {
  i: number
  sendMonoNs: number
  schedNs: number | null
  softwareNs: number | null
}

let netns: Netns
beforeAll(() => { netns = createNetns() })
afterAll(() => { netns.remove() })
afterEach(() => { tc('qdisc', 'del', 'dev', netns.hostIf, 'root') })

function tc (...args: string[]): string {
  try {
    return execFileSync('tc', args, { encoding: 'utf8', stdio: 'pipe' })
  } catch {
    return ''
  }
}

/** Shapes the host's end of the pair: tbf at RATE, a queue of `limitBytes`. */
function shape (limitBytes: number): void {
  execFileSync('tc', ['qdisc', 'replace', 'dev', netns.hostIf, 'root', 'tbf', 'rate', RATE, 'burst', '1600', 'limit', String(limitBytes)])
}

/** The qdisc's own count of the packets it dropped. */
function qdiscDrops (): number {
  const [qdisc] = JSON.parse(execFileSync('tc', ['-s', '-j', 'qdisc', 'show', 'dev', netns.hostIf, 'root'], { encoding: 'utf8' })) as Array<{ drops: number }>
  return qdisc!.drops
}

/** Sends from the host to the namespace with udpwork, which prints each datagram's call and transmit timestamps. */
async function sendStamped (bindPort: number, to: string, args: string[]): Promise<{ sent: Sent[], pid: number }> {
  const sender = runTool([...REALTIME, UDPWORK, 'send', '--bind', `${netns.hostV4}:${bindPort}`, '--to', to, '--tx-stamps', ...args])
  const lines = [await sender.first, ...await sender.rest] as Array<Sent & { pid?: number }>
  return { sent: lines.filter((line) => 'sendMonoNs' in line), pid: lines.at(-1)!.pid! }
}

const byKind = (events: ProbeEvent[], kind: ProbeEvent['kind']) => events.filter((e) => e.kind === kind)

describe('the sending side', () => {
  it('send: a burst behind tbf waits its turn in the qdisc, k × 10 ms for the k-th, as the kernel\'s transmit timestamps say', async () => {
    shape(100_000)
    const count = 12
    const probe = await startProbe(['--direction', 'send', '--threshold-us', '0', '--port', '27001'])
    const receiver = await startReceiver({ bind: `${netns.nsV4}:27002`, count, prefix: netns.exec })
    const { sent, pid } = await sendStamped(27001, `${netns.nsV4}:27002`, ['--count', String(count), '--len', '1200', '--burst', String(count)])
    await receiver.done
    const run = await probe.stop()
    const events = byKind(run.events, 'send').sort((a, b) => a.queuedNs! - b.queuedNs!)
    expect(events).toHaveLength(count)
    expect(run.events).toHaveLength(count)
    expect(run.stats).toMatchObject({ matched: count, untracked: 0 })
    for (const e of events) {
      expect(e).toMatchObject({ pid, comm: 'udpwork', sender: { pid, comm: 'udpwork' }, src: `${netns.hostV4}:27001`, dst: `${netns.nsV4}:27002` })
      for (const mark of ['sendNs', 'queuedNs', 'xmitStartNs', 'xmitDoneNs'] as const) expect(e[mark], mark).not.toBeNull()
      expect(e.sendStackNs! + e.qdiscNs! + e.driverNs!).toBe(e.sendTotalNs)
    }
    // The first leaves at once on the bucket's tokens, the second on what they leave; each later one waits one
    // more datagram's time on the wire.
    for (let k = 1; k < count; k++) expect(events[k]!.slowestStage).toBe('qdisc')
    for (let k = 2; k < count; k++) {
      expect(Math.abs(events[k]!.qdiscNs! - events[k - 1]!.qdiscNs! - WIRE_NS), `datagram ${k}`).toBeLessThan(WIRE_NS / 10)
    }
    // The first datagram of the socket pays for cold caches between the SCHED stamp and net_dev_queue: a warm-up.
    const off = events.slice(1).map((e, k) => Math.abs(e.qdiscNs! - (sent[k + 1]!.softwareNs! - sent[k + 1]!.schedNs!)))
    console.log(`send over tbf: qdisc ${events.map((e) => (e.qdiscNs! / 1e6).toFixed(2)).join(' ')} ms; |qdiscNs - (SOFTWARE - SCHED)| p50 ${(percentile(off, 50) / 1000).toFixed(1)} us p99 ${(percentile(off, 99) / 1000).toFixed(1)} us`)
    expect(percentile(off, 99)).toBeLessThanOrEqual(10_000)
  }, 30_000)

  it('path over veth: one event per datagram, both halves, inside both ends\' calls, each tail within 3 us at p50', async () => {
    const count = 30
    const probe = await startProbe(['--direction', 'both', '--threshold-us', '0', '--port', '27011'])
    const receiver = await startReceiver({ bind: `${netns.nsV4}:27011`, count, prefix: [...netns.exec, ...REALTIME] })
    const { sent } = await sendStamped(27012, `${netns.nsV4}:27011`, ['--count', String(count), '--len', '64', '--len-cycle', String(count), '--interval-us', '2000'])
    const received = await receiver.done
    const run = await probe.stop()
    const paths = byKind(run.events, 'path')
    expect(paths).toHaveLength(count)
    expect(run.events).toHaveLength(count)
    // What both ends' clocks guarantee, for every datagram: its send mark after the sender's clock right before its
    // call, its return inside the reader's call (within the two CLOCK_MONOTONIC accessors' slack); and the tails.
    const entries: number[] = []
    const exits: number[] = []
    for (const e of paths) {
      const k = e.len - 64
      for (const stage of ['sendStackNs', 'qdiscNs', 'driverNs', 'wireNs', 'stackNs', 'queueNs', 'copyNs', 'totalNs'] as const) expect(e[stage], stage).not.toBeNull()
      expect(e.sendStackNs! + e.qdiscNs! + e.driverNs! + e.wireNs! + e.stackNs! + e.queueNs! + e.copyNs!).toBe(e.totalNs)
      expect(e.sender).toMatchObject({ comm: 'udpwork' })
      const returned = received.find((r) => r.len === e.len)!
      expect(e.sendNs!, `datagram ${k}: send before the sender's call`).toBeGreaterThanOrEqual(sent[k]!.sendMonoNs - CLOCK_SLACK_NS)
      expect(e.returnNs!, `datagram ${k}: return before the reader's call`).toBeGreaterThanOrEqual(returned.callMonoNs - CLOCK_SLACK_NS)
      expect(e.returnNs!, `datagram ${k}: return after the reader's call`).toBeLessThanOrEqual(returned.returnMonoNs + CLOCK_SLACK_NS)
      entries.push(e.sendNs! - sent[k]!.sendMonoNs)
      exits.push(returned.returnMonoNs - e.returnNs!)
    }
    const spread = (ns: number[]): string => `p50 ${(percentile(ns, 50) / 1000).toFixed(1)} us p99 ${(percentile(ns, 99) / 1000).toFixed(1)} us max ${(Math.max(...ns) / 1000).toFixed(1)} us`
    console.log(`path over veth, n=${count}: sender's clock to send ${spread(entries)}; return to the reader's clock ${spread(exits)}`)
    expect(percentile(entries, 50)).toBeLessThanOrEqual(3000)
    expect(percentile(exits, 50)).toBeLessThanOrEqual(3000)
  }, 30_000)

  it('runs the sending side\'s programs only for sessions that trace sends, and the receiving side\'s only for those that trace receives', async () => {
    const attached = async (direction: string) => {
      const probe = await startProbe(['--direction', direction, '--port', '27031'])
      const ids = new Set(attachedProgramIds())
      const names = programNames(programIdsOf(probe.pid).filter((id) => ids.has(id)))
      await probe.stop()
      return names
    }
    const sending = ['ult_send_call', 'ult_sent', 'ulx_done', 'ulx_queue', 'ulx_start']
    const receiving = ['ula_arrive', 'ule_exit', 'ulr_gro', 'ulr_gro_frags', 'ulr_netif_rx', 'ulr_skb', 'ulr_skb_list', 'ult_enqueue', 'ult_read']
    const schedulerAndDrops = ['ul_drop', 'uls_rename', 'uls_switch', 'uls_wakeup']
    expect(await attached('send')).toEqual(['ul_drop', ...sending].sort())
    expect(await attached('receive')).toEqual([...schedulerAndDrops, ...receiving].sort())
    expect(await attached('both')).toEqual([...schedulerAndDrops, ...receiving, ...sending].sort())
  }, 30_000)

  it('drops in a full qdisc: counted by reason, each the qdisc\'s own count, and every other datagram sent', async () => {
    // Room for two datagrams behind the one leaving: the rest of a burst of 20 is dropped.
    shape(2600)
    const count = 20
    const before = qdiscDrops()
    const probe = await startProbe(['--direction', 'send', '--threshold-us', '0', '--port', '27021'])
    const receiver = await startReceiver({ bind: `${netns.nsV4}:27022`, count, prefix: netns.exec, timeoutMs: 2000 })
    await sendStamped(27021, `${netns.nsV4}:27022`, ['--count', String(count), '--len', '1200', '--burst', String(count)])
    await receiver.done
    const run = await probe.stop()
    const dropped = qdiscDrops() - before
    expect(dropped).toBeGreaterThan(0)
    expect(run.stats.drops).toBe(dropped)
    expect(Object.values(run.dropCounts).reduce((sum, n) => sum + n, 0)).toBe(dropped)
    expect(Object.keys(run.dropCounts).every((reason) => reason.startsWith('QDISC') || reason.startsWith('TC'))).toBe(true)
    expect(run.drops).toHaveLength(dropped)
    expect(byKind(run.events, 'send')).toHaveLength(count - dropped)
  }, 30_000)
})

import { describe, expect, it } from 'vitest'
import { startProbe } from './probe.js'
import { send, startReceiver } from './workload.js'

// A read ends at its system call's exit (recvfrom, recvmsg, recvmmsg), or, through a call whose exit udplat does
// not trace (read(2)), as the socket's recvmsg returns: either way inside the reader's own call, after its read.
// Ports 26000-26099 are this file's.
const COUNT = 50
// The receiver reads CLOCK_MONOTONIC through the vDSO, udplat through ktime_get_mono_fast_ns() (accuracy.kernel.test.ts).
const CLOCK_SLACK_NS = 1000
const REALTIME = ['chrt', '--fifo', '10']

const portOf = (endpoint: string): number => Number(endpoint.slice(endpoint.lastIndexOf(':') + 1))

describe('a read\'s return', () => {
  it.each([
    { call: 'recvmsg' as const, port: 26001, batch: 1, recvmmsg: false },
    { call: 'recvfrom' as const, port: 26002, batch: 1, recvmmsg: false },
    { call: 'read' as const, port: 26003, batch: 1, recvmmsg: false },
    { call: 'recvmmsg' as const, port: 26004, batch: 8, recvmmsg: true }
  ])('through $call lies inside the reader\'s call, after its read', async ({ call, port, batch, recvmmsg }) => {
    const probe = await startProbe(['--threshold-us', '0', '--port', String(port)])
    const receiver = await startReceiver({
      bind: `127.0.0.1:${port}`,
      count: COUNT,
      batch,
      recvmmsg,
      ...(call === 'recvfrom' || call === 'read' ? { call } : {}),
      delayMs: recvmmsg ? 5 : 0,
      prefix: REALTIME
    })
    const sport = await send(`127.0.0.1:${port}`, COUNT, { len: 64, lenCycle: COUNT, intervalUs: 1000, prefix: REALTIME })
    const truth = await receiver.done
    const run = await probe.stop()
    const events = new Map(run.events.filter((e) => portOf(e.src) === sport).map((e) => [e.len, e]))
    expect(COUNT - events.size, 'datagrams without an event (a read before sk_data_ready)').toBeLessThanOrEqual(1)
    expect(run.stats.untracked + run.stats.stale).toBe(COUNT - events.size)
    const outside = truth.filter((t) => {
      const e = events.get(t.len)
      return e !== undefined && (e.returnNs! < t.callMonoNs - CLOCK_SLACK_NS || e.returnNs! > t.returnMonoNs + CLOCK_SLACK_NS)
    })
    expect(outside.map((t) => t.len), 'datagrams whose return is outside the reader\'s call').toEqual([])
    for (const e of events.values()) {
      expect(e.readNs, 'every plan sees the read').not.toBeNull()
      expect(e.copyNs).toBe(e.returnNs! - e.readNs!)
      expect(e.copyNs!).toBeGreaterThanOrEqual(0)
    }
    if (recvmmsg) {
      // The case means something only if calls read several datagrams, each then inside the batch's window.
      const batches = new Map<number, number[]>()
      for (const t of truth) {
        const e = events.get(t.len)
        if (e !== undefined) batches.set(t.callMonoNs, [...(batches.get(t.callMonoNs) ?? []), e.returnNs!])
      }
      expect([...batches.values()].some((returns) => returns.length > 1), 'some call read several datagrams').toBe(true)
    }
  })
})

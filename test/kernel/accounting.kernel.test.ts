import { execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { sleep, startProbe } from './probe.js'
import { mapIdsOf, send, startReceiver, UDPWORK } from './workload.js'

// Nothing is lost silently: drops, ring buffer losses and the timestamp map are all accounted for.

/** A counter from /proc/net/snmp ("Udp" row) or /proc/net/snmp6 ("Udp6RcvbufErrors" line). */
function snmp (family: 'ipv4' | 'ipv6', field: string): number {
  if (family === 'ipv6') {
    const line = readFileSync('/proc/net/snmp6', 'utf8').split('\n').find((l) => l.startsWith(`Udp6${field} `))
    return Number(line?.split(/\s+/)[1])
  }
  const rows = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'))
  const names = rows[0]!.split(/\s+/)
  return Number(rows[1]!.split(/\s+/)[names.indexOf(field)])
}

/** Datagrams held in a loader's `tracked` slots (a slot is free while its first 8 bytes, the skb address, are 0). */
function trackedDatagrams (loaderPid: number): number {
  for (const id of mapIdsOf(loaderPid)) {
    const info = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show', 'id', String(id)], { encoding: 'utf8' })) as { name: string }
    if (info.name !== 'tracked') continue
    const slots = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'dump', 'id', String(id)], { encoding: 'utf8', maxBuffer: 256 << 20 })) as Array<{ value: string[] }>
    return slots.filter((slot) => slot.value.slice(0, 8).some((byte) => byte !== '0x00')).length
  }
  throw new Error(`loader ${loaderPid} has no map tracked`)
}

describe.each([
  { family: 'ipv4' as const, bind: '127.0.0.1', port: 22001 },
  { family: 'ipv6' as const, bind: '[::1]', port: 22002 }
])('drops over $family', ({ family, bind, port }) => {
  it('counts SOCKET_RCVBUFF drops exactly as the kernel\'s RcvbufErrors, and frees every timestamp of unread datagrams', async () => {
    const probe = await startProbe(['--port', String(port), '--threshold-us', '0'])
    const receiver = await startReceiver({ bind: `${bind}:${port}`, count: 1, rcvbufBytes: 4096, noRead: true, timeoutMs: 1500 })
    const before = snmp(family, 'RcvbufErrors')
    await send(`${bind}:${port}`, 3000, { len: 200 })
    const rcvbufErrors = snmp(family, 'RcvbufErrors') - before
    const queued = trackedDatagrams(probe.pid)
    // The receiver exits without reading: closing the socket frees what was queued.
    await receiver.done
    await sleep(300)
    const left = trackedDatagrams(probe.pid)
    const run = await probe.stop()

    console.log(`${family}: RcvbufErrors +${rcvbufErrors}, drops ${JSON.stringify(run.dropCounts)}, drop events ${run.drops.length}, timestamps queued ${queued} then ${left}`)
    expect(rcvbufErrors).toBeGreaterThan(2000)
    expect(run.dropCounts.SOCKET_RCVBUFF).toBe(rcvbufErrors)
    expect(run.stats.drops).toBe(3000)
    // Drop events are capped per CPU and second (--drop-events, default 1000); the rest are counted, never silent.
    expect(run.drops.length + run.stats.dropsLost).toBe(run.stats.drops)
    expect(run.drops.length).toBeLessThan(run.stats.drops)
    expect(run.drops.every((d) => d.len === 200)).toBe(true)
    expect(queued).toBe(3000 - rcvbufErrors)
    expect(left).toBe(0)
    expect(run.stats.matched).toBe(0)
  })
})

describe('ring buffer losses', () => {
  it('hold slow = emitted + kernelLost exactly under a flood into a 4 KiB ring buffer', async () => {
    const port = 22003
    const probe = await startProbe(['--port', String(port), '--threshold-us', '0', '--ringbuf-kb', '4'])
    const sink = spawn(UDPWORK, ['sink', '--bind', `127.0.0.1:${port}`, '--seconds', '2'])
    const sunk = new Promise<string>((resolve) => { let out = ''; sink.stdout.on('data', (c: Buffer) => { out += c.toString() }); sink.on('close', () => resolve(out)) })
    await sleep(100)
    execFileSync(UDPWORK, ['flood', '--to', `127.0.0.1:${port}`, '--seconds', '1', '--len', '32'])
    await sunk
    const run = await probe.stop()
    const s = run.stats
    const sum = (stage: string): number => (run.hists[stage] ?? []).reduce((a, b) => a + b, 0)
    console.log(`flood: matched ${s.matched}, slow ${s.slow}, emitted ${s.emitted}, kernelLost ${s.kernelLost}, events read ${run.events.length}, histogram counts ${JSON.stringify({ stack: sum('stack'), queue: sum('queue'), total: sum('total') })}`)
    expect(s.kernelLost).toBeGreaterThan(0)
    expect(s.slow).toBe(s.matched)
    expect(s.slow).toBe(s.emitted + s.kernelLost)
    expect(run.events).toHaveLength(s.emitted)
    // Every matched datagram is in the histograms, not only the slow ones; a stage whose marks were not both seen is left out.
    expect(sum('total')).toBe(s.matched)
    expect(sum('queue')).toBe(sum('stack'))
    expect(sum('queue')).toBeGreaterThan(0.95 * s.matched)
  })
})

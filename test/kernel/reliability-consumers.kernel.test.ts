import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { outline } from '../helpers/sse.js'
import { mib, rssBytes } from '../reliability/proc.js'
import { listeningService } from '../reliability/service.js'
import { delivery, openStream } from '../reliability/sse-client.js'
import { sleep } from './probe.js'
import { send, UDPWORK } from './workload.js'

// Event streams over the real loader: one client that stops reading under a flood, and a hundred at once.
// Ports 23300-23399 are this file's.

let service: Awaited<ReturnType<typeof listeningService>>
beforeAll(async () => { service = await listeningService() })
afterAll(async () => { await service.app.close() })

async function createSession (port: number, bufferEvents: number): Promise<string> {
  const res = await service.call('POST', '/v1/sessions', { filter: { ports: [port] }, thresholdUs: 0, bufferEvents })
  expect(res.status, JSON.stringify(res.json)).toBe(201)
  return res.json.id
}

/** Stops the session's loader without forgetting the session: its counts are then final. */
async function stopSession (id: string) {
  await service.app.sessions.get(id).stop()
  return (await service.call('GET', `/v1/sessions/${id}`)).json
}

describe('a client that stops reading under a flood', () => {
  it('costs the service bounded memory, then gets `lost` with exact counts, and every count adds up', async () => {
    const port = 23301
    const bufferEvents = 100
    const id = await createSession(port, bufferEvents)
    const client = await openStream(`${service.base}/v1/sessions/${id}/events/stream`)
    client.res.pause()

    const sink = spawn(UDPWORK, ['sink', '--bind', `127.0.0.1:${port}`, '--seconds', '30'])
    await new Promise((resolve) => sink.stdout.once('data', resolve))
    const baselineRss = rssBytes()
    let highWaterRss = baselineRss
    const sampler = setInterval(() => { highWaterRss = Math.max(highWaterRss, rssBytes()) }, 20)
    const flood = spawn(UDPWORK, ['flood', '--to', `127.0.0.1:${port}`, '--seconds', '3', '--len', '64'])
    const flooded = await new Promise<string>((resolve) => {
      let out = ''
      flood.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
      flood.once('close', () => resolve(out))
    })
    // The last datagrams read, the last events drained: only then are the loader's final counts complete.
    await sleep(300)
    sink.kill()
    clearInterval(sampler)
    const session = await stopSession(id)
    const { counts, lastSeq } = session

    client.res.resume()
    const frames = await client.ended
    const got = delivery(frames)
    const eventBytes = client.text().length / Math.max(1, frames.length)
    console.log([
      `flood: ${flooded.trim()}`,
      `session: lastSeq ${lastSeq}, ${JSON.stringify({ ...counts, dropsByReason: undefined })}`,
      `client: ${got.latency} latency + ${got.drop} drop events delivered, ${got.lost} announced lost in ${got.lostFrames} lost frames`,
      `service RSS ${mib(baselineRss)} before, high-water ${mib(highWaterRss)} (+${mib(highWaterRss - baselineRss)}) while the client read nothing; ` +
        `buffering every event would take ${mib(lastSeq * eventBytes)}`
    ].join('\n'))

    expect(lastSeq).toBeGreaterThan(100 * bufferEvents)
    // The kernel's identity, and every event that crossed the ring buffer reached the buffer.
    expect(counts.slow).toBe(counts.emitted + counts.kernelLost)
    expect(lastSeq).toBe(counts.emitted + counts.drops - counts.dropsLost)
    expect(counts.evicted).toBe(lastSeq - bufferEvents)
    // The client: what it got plus what it was told it lost is every event, exactly.
    expect(got.lostFrames).toBeGreaterThan(0)
    expect(got.latency + got.drop + got.lost).toBe(lastSeq)
    expect(got.lost).toBeLessThanOrEqual(counts.evicted)
    expect(got.seqs.at(-1)).toBe(lastSeq)
    expect(got.states[0]).toBe('running')
    expect(got.states.at(-1)).toBe('stopped')
    expect(highWaterRss - baselineRss).toBeLessThan(64 * 2 ** 20)
    expect((await service.call('DELETE', `/v1/sessions/${id}`)).status).toBe(204)
  })
})

describe('a hundred clients on one session', () => {
  it('all receive the identical sequence: every event once, in order, between the same states', async () => {
    const port = 23311
    const clients = 100
    const datagrams = 2000
    const id = await createSession(port, 10_000)
    const streams = await Promise.all(Array.from({ length: clients }, async () => await openStream(`${service.base}/v1/sessions/${id}/events/stream`)))
    const sink = spawn(UDPWORK, ['sink', '--bind', `127.0.0.1:${port}`, '--seconds', '30'])
    await new Promise((resolve) => sink.stdout.once('data', resolve))
    await send(`127.0.0.1:${port}`, datagrams, { intervalUs: 100 })
    await sleep(300)
    sink.kill()
    const { counts, lastSeq } = await stopSession(id)
    expect((await service.call('DELETE', `/v1/sessions/${id}`)).status).toBe(204)
    const outlines = (await Promise.all(streams.map(async (stream) => await stream.ended))).map(outline)

    // A state frame tells the state when a client is caught up: one that was not at `stopping` never hears of it.
    const events = outlines.map((frames) => frames.filter((frame) => frame[0] !== 'state'))
    const got = delivery(await streams[0]!.ended)
    console.log(`${clients} clients: each received ${got.seqs.length} events, ${got.lost} lost, states ${got.states.join(' -> ')}; ` +
      `${datagrams} datagrams sent, session ${JSON.stringify({ lastSeq, ...counts, dropsByReason: undefined })}`)
    expect(lastSeq).toBeGreaterThanOrEqual(datagrams / 2)
    expect(lastSeq).toBe(counts.emitted + counts.drops - counts.dropsLost)
    expect(got.seqs).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1))
    for (const other of events) expect(other).toEqual(events[0])
    for (const frames of outlines) {
      expect(frames[0]).toEqual(['state', undefined, { state: 'running', error: null }])
      expect(frames.at(-1)).toEqual(['state', undefined, { state: 'stopped', error: null }])
    }
  })
})

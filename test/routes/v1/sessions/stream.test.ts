import { spawn } from 'node:child_process'
import { get, type IncomingMessage } from 'node:http'
import { createInterface } from 'node:readline'
import { EventSource } from 'eventsource'
import { describe, expect, it, vi } from 'vitest'
import { fakeProbe, listeningApp } from '../../../helpers/app.js'
import { parseFrames, type Frame } from '../../../helpers/sse.js'

// Streams and disconnects need a real listening server and real clients: app.inject() shows neither.

type Listening = Awaited<ReturnType<typeof listeningApp>>
const TOKEN = 'correct-horse-battery-staple'

/** A running session whose fake loader has sent `events` events, and sends `events` more at each SIGUSR1. */
async function session ({ base }: Listening, { events = 0, bufferEvents = 10_000, headers = {} as Record<string, string> }) {
  const probe = fakeProbe('run', { events })
  const res = await fetch(`${base}/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ bufferEvents })
  })
  const { id } = await res.json() as { id: string }
  // A cursor is one of the session's seqs: a stream after the first events waits for them to be there.
  await vi.waitFor(async () => expect((await (await fetch(`${base}/v1/sessions/${id}`, { headers })).json()).lastSeq).toBe(events), { timeout: 10_000 })
  return { id, more: () => process.kill(probe().pid, 'SIGUSR1'), delete: async () => await fetch(`${base}/v1/sessions/${id}`, { method: 'DELETE', headers }) }
}

const ENDED = ['stopped', 'expired', 'failed']

/** Collects what an EventSource receives, until the server stops it for good, or until the session ends with `closeAtEnd`. */
function listen (url: string, { headers = {} as Record<string, string>, closeAtEnd = false } = {}) {
  const source = new EventSource(url, { fetch: async (input, init) => await fetch(input, { ...init, headers: { ...init?.headers, ...headers } }) })
  const received: Array<{ type: string, id: string, data: any }> = []
  for (const type of ['latency', 'drop', 'lost', 'state']) {
    source.addEventListener(type, (event) => {
      received.push({ type, id: event.lastEventId, data: JSON.parse(event.data) })
      if (closeAtEnd && type === 'state' && ENDED.includes(JSON.parse(event.data).state)) source.close()
    })
  }
  const errors: Array<number | undefined> = []
  source.addEventListener('error', (event) => errors.push(event.code))
  return { source, received, errors }
}

/** Reads a stream with node's http client; `pause()` stops reading, so the server's writes back up. */
async function open (url: string): Promise<IncomingMessage & { text: () => string }> {
  return await new Promise((resolve, reject) => {
    get(url, { headers: { accept: 'text/event-stream' } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      resolve(Object.assign(res, { text: () => text }))
    }).on('error', reject)
  })
}

describe('an event stream on a listening server', () => {
  it('gives an EventSource every event live with its seq as lastEventId, states, and ends after the session', async () => {
    const server = await listeningApp()
    const { id, more, delete: remove } = await session(server, { events: 3 })
    const { source, received, errors } = listen(`${server.base}/v1/sessions/${id}/events`)
    await vi.waitFor(() => expect(received).toHaveLength(4))
    more()
    await vi.waitFor(() => expect(received).toHaveLength(7))
    expect((await remove()).status).toBe(204)
    // The stream ends after the final state: EventSource reports it and would reconnect (to find the session gone).
    await vi.waitFor(() => expect(errors).toEqual([undefined]))
    expect(source.readyState).toBe(EventSource.CONNECTING)
    source.close()
    const states = received.filter((event) => event.type === 'state').map((event) => event.data.state)
    expect(states[0]).toBe('running')
    expect(states.at(-1)).toBe('stopped')
    const events = received.filter((event) => event.type === 'latency')
    expect(events.map((event) => [event.id, event.data.seq])).toEqual([1, 2, 3, 4, 5, 6].map((seq) => [String(seq), seq]))
  })

  it('takes the bearer token, and answers 401 without it', async () => {
    const server = await listeningApp({ token: TOKEN })
    const { id } = await session(server, { events: 2, headers: { authorization: `Bearer ${TOKEN}` } })
    const authorized = listen(`${server.base}/v1/sessions/${id}/events/stream`, { headers: { authorization: `Bearer ${TOKEN}` } })
    const anonymous = listen(`${server.base}/v1/sessions/${id}/events/stream`)
    await vi.waitFor(() => expect(authorized.received).toHaveLength(3))
    await vi.waitFor(() => expect(anonymous.source.readyState).toBe(EventSource.CLOSED))
    expect(anonymous.errors).toEqual([401])
    authorized.source.close()
  })

  it('gives 100 concurrent clients the same sequence', async () => {
    const server = await listeningApp()
    const { id, more, delete: remove } = await session(server, { events: 200 })
    const clients = Array.from({ length: 100 }, () => listen(`${server.base}/v1/sessions/${id}/events`, { closeAtEnd: true }))
    // What is judged is the sequence every client gets, not how fast: 100 clients in this process, beside the other
    // files' tests, took 3.5 s with a busy loop on each CPU, where waitFor's default gives up after 1 s.
    await vi.waitFor(() => { for (const client of clients) expect(client.received.length).toBeGreaterThanOrEqual(201) }, { timeout: 20_000 })
    more()
    await vi.waitFor(() => expect(server.app.sessions.get(id).events.lastSeq).toBe(400))
    await remove()
    await vi.waitFor(() => { for (const client of clients) expect(client.source.readyState).toBe(EventSource.CLOSED) }, { timeout: 10_000 })
    const sequence = (client: (typeof clients)[number]) => client.received.filter((event) => event.type !== 'state').map((event) => event.id)
    const expected = Array.from({ length: 400 }, (_, i) => String(i + 1))
    for (const client of clients) expect(sequence(client)).toEqual(expected)
  })

  it('sends heartbeat comments while idle', async () => {
    const server = await listeningApp({ heartbeatMs: 100 })
    const { id } = await session(server, {})
    const res = await open(`${server.base}/v1/sessions/${id}/events`)
    await vi.waitFor(() => expect(parseFrames(res.text()).filter((frame) => frame.comment === 'heartbeat').length).toBeGreaterThanOrEqual(2))
    res.destroy()
  })

  it('frees everything when a client disconnects, reading or stalled', async () => {
    const server = await listeningApp({ heartbeatMs: 60_000 })
    const { id, more } = await session(server, { events: 20_000, bufferEvents: 100_000 })
    const live = server.app.sessions.get(id)
    const idle = await open(`${server.base}/v1/sessions/${id}/events?after=20000`)
    const stalled = await open(`${server.base}/v1/sessions/${id}/events`)
    stalled.pause()
    more()
    await vi.waitFor(() => {
      expect(live.streams.open).toBe(2)
      expect(live.changes.waiting).toBe(1)
      expect(idle.text()).toContain('id: 20001\n')
    })
    idle.destroy()
    stalled.destroy()
    await vi.waitFor(() => {
      expect(live.streams.open).toBe(0)
      expect(live.changes.waiting).toBe(0)
    })
  })

  it('tells a client that fell behind the buffer exactly how many events it lost, and goes on from the oldest kept', async () => {
    const server = await listeningApp()
    const { id, more, delete: remove } = await session(server, { events: 10_000, bufferEvents: 1000 })
    const res = await open(`${server.base}/v1/sessions/${id}/events?after=9000`)
    res.pause()
    // 40 000 events of about 400 bytes: far more than the socket buffers hold while the client does not read.
    for (let i = 0; i < 4; i++) {
      more()
      await vi.waitFor(() => expect(server.app.sessions.get(id).events.lastSeq).toBe(20_000 + 10_000 * i))
    }
    const lastSeq = server.app.sessions.get(id).events.lastSeq
    await remove()
    res.resume()
    await new Promise((resolve) => res.on('end', resolve))

    const frames = parseFrames(res.text())
    const numbered = frames.filter((frame): frame is Frame & { id: string } => frame.id !== undefined)
    const lost = numbered.filter((frame) => frame.event === 'lost')
    expect(lost.length).toBeGreaterThan(0)
    let next = 9001
    for (const frame of numbered) {
      if (frame.event === 'lost') {
        expect(frame.data).toEqual({ count: frame.data.nextSeq - next, nextSeq: Number(frame.id) + 1 })
        next = frame.data.nextSeq
      } else {
        expect(frame.data.seq).toBe(next)
        expect(frame.id).toBe(String(next))
        next++
      }
    }
    expect(next).toBe(lastSeq + 1)
    expect(frames.at(-1)).toEqual({ event: 'state', data: { state: 'stopped', error: null } })
  })

  it('delivers every state the session entered to a client that is behind, in order after the events before it', async () => {
    const server = await listeningApp()
    // 20 000 events of about 400 bytes: far more than the socket buffers hold while the client does not read.
    const { id, delete: remove } = await session(server, { events: 20_000, bufferEvents: 100_000 })
    await vi.waitFor(() => expect(server.app.sessions.get(id).events.lastSeq).toBe(20_000))
    const res = await open(`${server.base}/v1/sessions/${id}/events`)
    res.pause()
    expect((await remove()).status).toBe(204)
    res.resume()
    await new Promise((resolve) => res.on('end', resolve))
    const frames = parseFrames(res.text())
    expect(frames.filter((frame) => frame.event === 'state').map((frame) => frame.data.state)).toEqual(['running', 'stopping', 'stopped'])
    expect(frames.slice(-3).map((frame) => frame.event === 'state' ? frame.data.state : frame.id)).toEqual(['20000', 'stopping', 'stopped'])
  }, 30_000)

  it('lets other requests through while a client in another process drains a large backlog', async () => {
    const server = await listeningApp()
    const { id } = await session(server, { events: 200_000, bufferEvents: 200_000 })
    await vi.waitFor(() => expect(server.app.sessions.get(id).events.lastSeq).toBe(200_000), { timeout: 20_000 })
    // A client that reads as fast as the socket delivers, as curl does: it says when it has the first and the last event.
    const client = spawn(process.execPath, ['-e', DRAINING_CLIENT, `${server.base}/v1/sessions/${id}/events`, 'id: 200000\n'])
    const said = createInterface({ input: client.stdout })[Symbol.asyncIterator]()
    expect((await said.next()).value).toBe('first')
    const health = await fetch(`${server.base}/healthz`)
    const healthAt = Date.now()
    expect(health.status).toBe(200)
    const doneAt = Number((await said.next()).value)
    client.kill()
    // Before the fix the stream fed itself from nextTick to nextTick: nothing else ran until it had sent all.
    expect(healthAt).toBeLessThan(doneAt)
  }, 60_000)
})

/** Reads argv[1] as an event stream and prints "first" at its first chunk, then the time once argv[2] has come. */
const DRAINING_CLIENT = `
const [url, last] = process.argv.slice(1)
require('node:http').get(url, { headers: { accept: 'text/event-stream' } }, (res) => {
  let tail = ''
  let first = true
  res.setEncoding('utf8')
  res.on('data', (chunk) => {
    if (first) { first = false; process.stdout.write('first\\n') }
    const seen = tail + chunk
    tail = chunk.slice(-16)
    if (seen.includes(last)) { process.stdout.write(Date.now() + '\\n'); process.exit(0) }
  })
})
`

import { describe, expect, it } from 'vitest'
import { expectProblem, fakeProbe, sharedApp, testApp, waitForSession } from '../../../helpers/app.js'
import { outline, parseFrames } from '../../../helpers/sse.js'

type App = Awaited<ReturnType<typeof testApp>>

/**
 * A session whose fake loader has sent `events` latency events and `drops` drops, and sends `events`
 * more at each SIGUSR1 (`more()`); `mode: 'die-after-hello'` makes it a failed session holding them.
 */
async function sessionWith (app: App, { events = 0, drops = 0, bufferEvents = 10_000, mode = 'run' as 'run' | 'die-after-hello', direction = 'receive' }) {
  const probe = fakeProbe(mode, { events, drops })
  const { id } = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: { bufferEvents, direction } })).json()
  await waitForSession(app, id, (session) => {
    expect(session.lastSeq).toBe(events + drops)
    if (mode !== 'run') expect(session.state).toBe('failed')
  })
  return Object.assign(id as string, { more: () => process.kill(probe().pid, 'SIGUSR1') })
}

const page = async (app: App, id: string, query = '') => (await app.inject({ url: `/v1/sessions/${id}/events${query}` })).json()

describe('GET /v1/sessions/{id}/events', () => {
  it('returns events numbered from 1, latency and drop alike', async () => {
    const app = await testApp()
    const id = await sessionWith(app, { events: 2, drops: 1 })
    const { events, nextAfter, evicted } = await page(app, id)
    expect(events.map((e: { seq: number, type: string }) => [e.seq, e.type])).toEqual([[1, 'latency'], [2, 'latency'], [3, 'drop']])
    expect(events[0]).toMatchObject({
      time: '2025-11-24T16:00:01.000005500Z',
      latencyNs: 5500,
      slowestStage: 'queue',
      stages: { stackNs: 1000, queueNs: 4000, copyNs: 500, totalNs: 5500 },
      src: { address: '127.0.0.1', port: 40000 },
      cgroupId: '9007199254740993'
    })
    expect(events[2]).toEqual({
      seq: 3,
      type: 'drop',
      time: '2025-11-24T16:00:02.000000000Z',
      reason: 'SOCKET_RCVBUFF',
      family: 'ipv4',
      src: { address: '10.0.0.1', port: 1234 },
      dst: { address: '10.0.0.2', port: 9999 },
      len: 1400
    })
    expect({ nextAfter, evicted }).toEqual({ nextAfter: 3, evicted: 0 })
  })

  it('pages with after and limit, seq strictly increasing', async () => {
    const app = await testApp()
    const id = await sessionWith(app, { events: 250 })
    const seqs: number[] = []
    let after = 0
    for (;;) {
      const result = await page(app, id, `?after=${after}&limit=100`)
      if (result.events.length === 0) break
      seqs.push(...result.events.map((e: { seq: number }) => e.seq))
      after = result.nextAfter
    }
    expect(seqs).toEqual(Array.from({ length: 250 }, (_, i) => i + 1))
    expect(await page(app, id, '?after=250')).toEqual({ events: [], nextAfter: 250, evicted: 0 })
  })

  it('counts the events the bounded buffer evicted before the cursor', async () => {
    const app = await testApp()
    const id = await sessionWith(app, { events: 250, bufferEvents: 100 })
    const first = await page(app, id, '?after=0&limit=10')
    expect(first.evicted).toBe(150)
    expect(first.events[0].seq).toBe(151)
    expect(first.nextAfter).toBe(160)
    expect((await page(app, id, '?after=200&limit=10')).evicted).toBe(0)
    expect((await app.inject({ url: `/v1/sessions/${id}` })).json().counts.evicted).toBe(150)
  })

  it.each([
    ['?limit=0', 'querystring/limit must be >= 1'],
    ['?limit=10001', 'querystring/limit must be <= 10000'],
    ['?after=-1', 'querystring/after must be >= 0'],
    ['?after=x', 'querystring/after must be a number in plain decimal'],
    ['?cursor=1', 'querystring/cursor must NOT have additional properties'],
    ['?waitMs=30001', 'querystring/waitMs must be <= 30000'],
    ['?waitMs=-1', 'querystring/waitMs must be >= 0']
  ])('rejects %s as problem+json 400', async (query, detail) => {
    const app = await sharedApp()
    // Validation comes before the session is looked up.
    const problem = expectProblem(await app.inject({ url: `/v1/sessions/any/events${query}` }), 400, 'UDPLAT_VALIDATION')
    expect(problem.detail).toBe(detail)
  })

  it('answers 404 problem+json for an unknown session', async () => {
    const app = await testApp()
    expectProblem(await app.inject({ url: '/v1/sessions/nope/events' }), 404, 'UDPLAT_SESSION_NOT_FOUND')
  })
})

describe('GET /v1/sessions/{id}/events?waitMs', () => {
  it('answers at once when events follow the cursor', async () => {
    const app = await testApp()
    const id = await sessionWith(app, { events: 2 })
    const started = Date.now()
    expect((await page(app, id, '?waitMs=30000')).events).toHaveLength(2)
    expect(Date.now() - started).toBeLessThan(1000)
  })

  it('waits for the next event and answers with it', async () => {
    const app = await testApp()
    const id = await sessionWith(app, { events: 3 })
    const started = Date.now()
    setTimeout(id.more, 300)
    const result = await page(app, id, '?after=3&waitMs=10000')
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    expect(Date.now() - started).toBeLessThan(5000)
    expect(result.events.map((e: { seq: number }) => e.seq)).toEqual([4, 5, 6])
    expect(result).toMatchObject({ nextAfter: 6, evicted: 0 })
  })

  it('answers an empty page after waitMs without events', async () => {
    const app = await testApp()
    const id = await sessionWith(app, { events: 1 })
    const started = Date.now()
    expect(await page(app, id, '?after=1&waitMs=300')).toEqual({ events: [], nextAfter: 1, evicted: 0 })
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
  })

  it('answers when the session ends during the wait, and at once once it has ended', async () => {
    const app = await testApp()
    const id = await sessionWith(app, {})
    const started = Date.now()
    setTimeout(() => { void app.inject({ method: 'DELETE', url: `/v1/sessions/${id}` }) }, 200)
    expect(await page(app, id, '?waitMs=20000')).toEqual({ events: [], nextAfter: 0, evicted: 0 })
    expect(Date.now() - started).toBeLessThan(5000)

    const failed = await sessionWith(app, { events: 1, mode: 'die-after-hello' })
    const again = Date.now()
    expect(await page(app, failed, '?after=1&waitMs=20000')).toEqual({ events: [], nextAfter: 1, evicted: 0 })
    expect(Date.now() - again).toBeLessThan(1000)
  })
})

describe('GET /v1/sessions/{id}/events as Server-Sent Events', () => {
  const stream = async (app: App, id: string, query = '', headers: Record<string, string> = {}) =>
    await app.inject({ url: `/v1/sessions/${id}/events${query}`, headers: { accept: 'text/event-stream', ...headers } })

  it('sends the state, every event with its seq as id, and the final state, then ends', async () => {
    const app = await testApp()
    const id = await sessionWith(app, { events: 2, drops: 1, mode: 'die-after-hello' })
    const res = await stream(app, id)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8')
    expect(res.headers['cache-control']).toBe('no-cache')
    const frames = parseFrames(res.body)
    const failed = { state: 'failed', error: 'ring buffer poll failed: Bad address' }
    expect(outline(frames)).toEqual([['state', undefined, failed], ['latency', '1'], ['latency', '2'], ['drop', '3']])
    const polled = (await page(app, id)).events
    expect(frames.slice(1).map((frame) => frame.data)).toEqual(polled)
  })

  it('names send and path events as their type, each with its own stages', async () => {
    const app = await testApp()
    const sent = await sessionWith(app, { events: 1, drops: 1, direction: 'send', mode: 'die-after-hello' })
    const both = await sessionWith(app, { events: 1, direction: 'both', mode: 'die-after-hello' })
    const sendFrames = parseFrames((await stream(app, sent)).body)
    expect(outline(sendFrames).slice(1)).toEqual([['send', '1'], ['drop', '2']])
    expect(sendFrames[1]!.data).toMatchObject({
      type: 'send',
      slowestStage: 'qdisc',
      stages: { sendStackNs: 2000, qdiscNs: 3000, driverNs: 1000, sendTotalNs: 6000, callNs: 7000 },
      comm: 'sender'
    })
    const pathFrames = parseFrames((await stream(app, both)).body)
    expect(outline(pathFrames).slice(1)).toEqual([['path', '1']])
    expect(pathFrames[1]!.data).toMatchObject({
      type: 'path',
      latencyNs: 15500,
      stages: { sendStackNs: 2000, qdiscNs: 3000, driverNs: 1000, wireNs: 4000, stackNs: 1000, queueNs: 4000, copyNs: 500, totalNs: 15500, callNs: 7000 },
      comm: 'receiver',
      sender: { comm: 'sender' }
    })
    expect((await page(app, both)).events).toEqual(pathFrames.slice(1).map((frame) => frame.data))
  })

  it('is the same at /events/stream, without an Accept header', async () => {
    const app = await testApp()
    const id = await sessionWith(app, { events: 2, mode: 'die-after-hello' })
    const res = await app.inject({ url: `/v1/sessions/${id}/events/stream` })
    expect(res.body).toBe((await stream(app, id)).body)
  })

  it('resumes after Last-Event-ID, which wins over ?after', async () => {
    const app = await testApp()
    const id = await sessionWith(app, { events: 5, mode: 'die-after-hello' })
    const seqs = (res: { body: string }) => parseFrames(res.body).flatMap((frame) => frame.id ?? [])
    expect(seqs(await stream(app, id, '?after=3'))).toEqual(['4', '5'])
    expect(seqs(await stream(app, id, '?after=1', { 'last-event-id': '2' }))).toEqual(['3', '4', '5'])
    expect(seqs(await app.inject({ url: `/v1/sessions/${id}/events/stream?after=4` }))).toEqual(['5'])
  })

  it('starts with a lost event counting exactly what the buffer evicted after the cursor', async () => {
    const app = await testApp()
    const id = await sessionWith(app, { events: 250, bufferEvents: 100, mode: 'die-after-hello' })
    const frames = parseFrames((await stream(app, id, '?after=20')).body)
    expect(outline(frames.slice(0, 3))).toEqual([['state', undefined, expect.anything()], ['lost', '150', { count: 130, nextSeq: 151 }], ['latency', '151']])
    expect(frames.at(-1)?.id).toBe('250')
    expect(frames).toHaveLength(2 + 100)
  })

  it('answers 204 once the session has ended and nothing follows the cursor, so EventSource stops', async () => {
    const app = await testApp()
    const id = await sessionWith(app, { events: 2, mode: 'die-after-hello' })
    const res = await stream(app, id, '', { 'last-event-id': '2' })
    expect(res.statusCode).toBe(204)
    expect(res.body).toBe('')
  })

  it.each([
    [{ 'last-event-id': 'abc' }, '', 'headers/last-event-id must be a number in plain decimal'],
    [{ 'last-event-id': '-1' }, '', 'headers/last-event-id must be >= 0'],
    [{}, '?after=x', 'querystring/after must be a number in plain decimal']
  ])('rejects %j %s as problem+json 400', async (headers, query, detail) => {
    const app = await sharedApp()
    expect(expectProblem(await stream(app, 'any', query, headers), 400, 'UDPLAT_VALIDATION').detail).toBe(detail)
    expect(expectProblem(await app.inject({ url: '/v1/sessions/any/events/stream?limit=5' }), 400, 'UDPLAT_VALIDATION').detail)
      .toBe('querystring/limit must NOT have additional properties')
  })

  it.each([
    '99999999999999999999', '9007199254740993', '0x10', '1e3', '+5', '010', ' 5', '5 ', '5.0', '-0'
  ])('takes only decimal integers in the sequence range as a cursor: refuses %j in ?after and Last-Event-ID', async (cursor) => {
    const app = await sharedApp()
    const query = `?after=${encodeURIComponent(cursor)}`
    for (const res of [
      await app.inject({ url: `/v1/sessions/any/events${query}` }),
      await app.inject({ url: `/v1/sessions/any/events/stream${query}` }),
      await stream(app, 'any', '', { 'last-event-id': cursor })
    ]) {
      expectProblem(res, 400, 'UDPLAT_VALIDATION')
    }
  })

  it('reads the largest exact cursor, 2^53 - 1, as itself', async () => {
    const app = await testApp()
    const id = await sessionWith(app, { events: 1 })
    expect(expectProblem(await app.inject({ url: `/v1/sessions/${id}/events?after=${Number.MAX_SAFE_INTEGER}` }), 400, 'UDPLAT_VALIDATION').detail)
      .toBe(`querystring/after is ${Number.MAX_SAFE_INTEGER}, past the session's last event (seq 1)`)
  })

  it.each([
    ['polling', '', {}, 'querystring/after is 1000000000'],
    ['a long poll', '&waitMs=30000', {}, 'querystring/after is 1000000000'],
    ['a stream', '', { accept: 'text/event-stream' }, 'querystring/after is 1000000000'],
    ['a stream resumed', '', { accept: 'text/event-stream', 'last-event-id': '4' }, 'headers/last-event-id is 4']
  ])('refuses a cursor past the last event at once, naming the last seq: %s', async (_, query, headers, what) => {
    const app = await testApp()
    const id = await sessionWith(app, { events: 3 })
    const started = Date.now()
    const res = await app.inject({ url: `/v1/sessions/${id}/events?after=1000000000${query}`, headers })
    expect(expectProblem(res, 400, 'UDPLAT_VALIDATION').detail).toBe(`${what}, past the session's last event (seq 3)`)
    expect(Date.now() - started).toBeLessThan(1000)
    // The last seq itself is a cursor: nothing follows it yet.
    expect(await page(app, id, '?after=3')).toEqual({ events: [], nextAfter: 3, evicted: 0 })
  })

  it('refuses a cursor past the last event of a session that has ended, rather than answering 204', async () => {
    const app = await testApp()
    const id = await sessionWith(app, { events: 2, mode: 'die-after-hello' })
    const res = await stream(app, id, '', { 'last-event-id': '3' })
    expect(expectProblem(res, 400, 'UDPLAT_VALIDATION').detail).toBe('headers/last-event-id is 3, past the session\'s last event (seq 2)')
  })

  it.each([
    ['text/event-stream', true],
    ['text/event-stream;q=0.5, application/json;q=0.4', true],
    ['text/event-stream, */*', true],
    ['TEXT/EVENT-STREAM', true],
    ['text/event-streamx', false],
    ['application/json, text/event-stream;q=0.1', false],
    ['application/json, text/event-stream', false],
    ['text/event-stream;q=0', false],
    ['*/*', false],
    ['text/*', false],
    ['text/html', false]
  ])('negotiates Accept %j: a stream %s', async (accept, isStream) => {
    const app = await testApp()
    const id = await sessionWith(app, { events: 1, mode: 'die-after-hello' })
    const res = await app.inject({ url: `/v1/sessions/${id}/events`, headers: { accept } })
    expect(res.headers['content-type']).toBe(isStream ? 'text/event-stream; charset=utf-8' : 'application/json')
  })

  it('answers HEAD with the stream\'s headers and leaves no stream behind', async () => {
    const app = await testApp()
    const id = await sessionWith(app, { events: 3 })
    for (let i = 0; i < 200; i++) {
      const res = await app.inject({ method: 'HEAD', url: `/v1/sessions/${id}/events/stream` })
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8')
      expect(res.body).toBe('')
      expect((await app.inject({ method: 'HEAD', url: `/v1/sessions/${id}/events`, headers: { accept: 'text/event-stream' } })).statusCode).toBe(200)
    }
    expect(app.sessions.get(`${id}`).streams.open).toBe(0)
    const metrics = (await app.inject({ url: '/metrics' })).body
    expect(metrics).toContain(`udplat_session_streams{session="${id}"} 0`)
  })

  it('answers 404 problem+json for an unknown session', async () => {
    const app = await testApp()
    expectProblem(await stream(app, 'nope'), 404, 'UDPLAT_SESSION_NOT_FOUND')
    expectProblem(await app.inject({ url: '/v1/sessions/nope/events/stream' }), 404, 'UDPLAT_SESSION_NOT_FOUND')
  })
})

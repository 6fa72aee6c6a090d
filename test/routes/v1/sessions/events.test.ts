import { describe, expect, it } from 'vitest'
import { expectProblem, fakeProbe, testApp, waitForSession } from '../../../helpers/app.js'

type App = Awaited<ReturnType<typeof testApp>>

/** A running session whose fake loader has sent `events` latency events and `drops` drops. */
async function sessionWith (app: App, { events = 0, drops = 0, bufferEvents = 10_000 }) {
  fakeProbe('run', { events, drops })
  const { id } = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: { bufferEvents } })).json()
  await waitForSession(app, id, (session) => expect(session.lastSeq).toBe(events + drops))
  return id as string
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
    ['?after=x', 'querystring/after must be integer'],
    ['?cursor=1', 'querystring/cursor must NOT have additional properties']
  ])('rejects %s as problem+json 400', async (query, detail) => {
    const app = await testApp()
    const id = await sessionWith(app, {})
    const problem = expectProblem(await app.inject({ url: `/v1/sessions/${id}/events${query}` }), 400, 'UDPLAT_VALIDATION')
    expect(problem.detail).toBe(detail)
  })

  it('answers 404 problem+json for an unknown session', async () => {
    const app = await testApp()
    expectProblem(await app.inject({ url: '/v1/sessions/nope/events' }), 404, 'UDPLAT_SESSION_NOT_FOUND')
  })
})

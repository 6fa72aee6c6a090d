import { describe, expect, it } from 'vitest'
import { expectProblem, fakeProbe, testApp, TRACEPOINT_MARKS, waitForSession } from '../helpers/app.js'

type App = Awaited<ReturnType<typeof testApp>>

const scrape = async (app: App) => {
  const res = await app.inject({ url: '/metrics' })
  expect(res.statusCode).toBe(200)
  expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8')
  return res.body.split('\n')
}

describe('GET /metrics', () => {
  it('gives sessions by state and, per session, datagrams, events, losses, drops, streams and stage histograms', async () => {
    fakeProbe('die-after-hello', { events: 150, drops: 2 })
    const app = await testApp()
    const { id } = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: { bufferEvents: 100 } })).json()
    await waitForSession(app, id, (session) => expect(session.state).toBe('failed'))
    // A stream from the start skips the 52 events the buffer evicted.
    await app.inject({ url: `/v1/sessions/${id}/events/stream` })
    fakeProbe('run', { events: 3, marks: TRACEPOINT_MARKS })
    const running = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} })).json().id
    await waitForSession(app, running, (session) => expect(session.counts.matched).toBe(30))
    const lines = await scrape(app)

    expect(lines).toEqual(expect.arrayContaining([
      'udplat_sessions{state="running"} 1',
      'udplat_sessions{state="failed"} 1',
      'udplat_sessions{state="stopped"} 0',
      `udplat_session_datagrams_total{session="${id}"} 1500`,
      `udplat_session_slow_total{session="${id}"} 150`,
      `udplat_session_events_total{session="${id}",type="latency"} 150`,
      `udplat_session_events_total{session="${id}",type="drop"} 2`,
      `udplat_session_lost_events_total{session="${id}",where="kernel"} 0`,
      `udplat_session_lost_events_total{session="${id}",where="buffer"} 52`,
      `udplat_session_lost_events_total{session="${id}",where="stream"} 52`,
      `udplat_session_drops_total{session="${id}",reason="SOCKET_RCVBUFF"} 2`,
      `udplat_session_streams{session="${id}"} 0`,
      '# TYPE udplat_session_stage_seconds histogram',
      `udplat_session_stage_seconds_bucket{session="${running}",stage="stack",le="2.56e-7"} 0`,
      `udplat_session_stage_seconds_bucket{session="${running}",stage="stack",le="0.000001024"} 30`,
      `udplat_session_stage_seconds_bucket{session="${running}",stage="queue",le="0.004194304"} 27`,
      `udplat_session_stage_seconds_bucket{session="${running}",stage="queue",le="0.016777216"} 30`,
      `udplat_session_stage_seconds_bucket{session="${running}",stage="total",le="+Inf"} 30`,
      `udplat_session_stage_seconds_count{session="${running}",stage="total"} 30`
    ]))
    // An ended session keeps its counters, not its histograms: most of a session's series.
    expect(lines.filter((line) => line.startsWith('udplat_session_stage_seconds') && line.includes(`session="${id}"`))).toEqual([])
    // Without a read mark of its own the plan has no copy stage.
    expect(lines.filter((line) => line.includes(`session="${running}",stage="copy"`))).toEqual([])
    expect(lines).toContainEqual(expect.stringMatching(/^process_resident_memory_bytes \d+/))
  })

  it('drops a session\'s series once it is deleted', async () => {
    const app = await testApp()
    const { id } = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} })).json()
    expect((await scrape(app)).filter((line) => line.includes(id)).length).toBeGreaterThan(0)
    await app.inject({ method: 'DELETE', url: `/v1/sessions/${id}` })
    expect((await scrape(app)).filter((line) => line.includes(id))).toEqual([])
  })

  it('needs the token when one is configured', async () => {
    const token = 'correct-horse-battery-staple'
    const app = await testApp({ token })
    expectProblem(await app.inject({ url: '/metrics' }), 401, 'UDPLAT_UNAUTHORIZED')
    expect((await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200)
  })
})

import { describe, expect, it } from 'vitest'
import { expectProblem, fakeProbe, markBits, testApp, TRACEPOINT_MARKS, waitForSession } from '../../../helpers/app.js'

type App = Awaited<ReturnType<typeof testApp>>

/** A running session whose fake loader reported 3 slow datagrams out of 30 matched, and its histograms. */
async function sessionWith (app: App, marks?: number) {
  fakeProbe('run', { events: 3, marks })
  const { id } = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} })).json()
  await waitForSession(app, id, (session) => expect(session.counts.matched).toBe(30))
  return id as string
}

const histogram = async (app: App, id: string) => (await app.inject({ url: `/v1/sessions/${id}/histogram` })).json()

describe('GET /v1/sessions/{id}/histogram', () => {
  it('gives each stage\'s buckets and percentiles over every matched datagram', async () => {
    const app = await testApp()
    const id = await sessionWith(app)
    const { updatedAt, matched, stages } = await histogram(app, id)
    expect(updatedAt).toBe('2025-11-24T16:00:03.000000000Z')
    expect(matched).toBe(30)
    expect(stages.stack).toEqual({
      measured: true, count: 30, buckets: [{ fromNs: 512, toNs: 1024, count: 30 }], p50Ns: 1024, p90Ns: 1024, p99Ns: 1024, maxNs: 1024
    })
    expect(stages.queue).toMatchObject({ measured: true, count: 30, p50Ns: 2 ** 13, p90Ns: 2 ** 13, p99Ns: 2 ** 23, maxNs: 2 ** 23 })
    expect(stages.queue.buckets).toHaveLength(11)
    expect(stages.copy).toMatchObject({ measured: true, count: 30, buckets: [{ fromNs: 256, toNs: 512, count: 30 }] })
    expect(stages.total.count).toBe(matched)
  })

  it('marks the copy stage not measured for a plan without a read mark of its own, as events do', async () => {
    const app = await testApp()
    const id = await sessionWith(app, TRACEPOINT_MARKS)
    const { stages } = await histogram(app, id)
    expect(stages.copy).toEqual({ measured: false, count: 0, buckets: [], p50Ns: null, p90Ns: null, p99Ns: null, maxNs: null })
    expect(stages.queue).toMatchObject({ measured: true, count: 30 })
    const { events } = (await app.inject({ url: `/v1/sessions/${id}/events` })).json()
    expect(events[0]).toMatchObject({ slowestStage: 'queue', stages: { stackNs: 1000, queueNs: 4500, copyNs: null, totalNs: 5500 } })
  })

  it('marks the receiving side\'s stages not measured for a send session: its sent mark ends none of them', async () => {
    const app = await testApp()
    fakeProbe('run', { marks: markBits(['send', 'queued', 'xmitStart', 'xmitDone', 'sent']) })
    const { id } = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: { direction: 'send' } })).json()
    await waitForSession(app, id, (session) => expect(session.state).toBe('running'))
    const { stages, reader } = await histogram(app, id)
    const measured = Object.entries(stages).filter(([, stage]) => (stage as { measured: boolean }).measured).map(([name]) => name)
    expect(measured).toEqual(['sendStack', 'qdisc', 'driver', 'sendTotal', 'call'])
    expect(reader).toBeNull()
  })

  it('answers 404 problem+json for an unknown session', async () => {
    const app = await testApp()
    expectProblem(await app.inject({ url: '/v1/sessions/nope/histogram' }), 404, 'UDPLAT_SESSION_NOT_FOUND')
  })
})

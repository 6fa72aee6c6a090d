import { describe, expect, it, vi } from 'vitest'
import { alive, fakeProbe, testApp, waitForSession } from '../helpers/app.js'

// The loader sends stats every interval; five silent intervals and the service kills it and fails the session.
const STATS_INTERVAL_MS = 50
const SILENCE_LIMIT_MS = 5 * STATS_INTERVAL_MS

type App = Awaited<ReturnType<typeof testApp>>

async function start (app: App, mode: Parameters<typeof fakeProbe>[0] = 'run') {
  const probe = fakeProbe(mode)
  const res = await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} })
  expect(res.statusCode).toBe(201)
  return { id: res.json().id as string, pid: probe().pid }
}

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

describe('the loader watchdog', () => {
  it('fails the session of a stopped loader (SIGSTOP) with the silence measured, kills it, and leaves the others running', async () => {
    const app = await testApp({ loaderStatsIntervalMs: STATS_INTERVAL_MS })
    const healthy = await start(app)
    const stuck = await start(app)
    const stoppedAt = Date.now()
    process.kill(stuck.pid, 'SIGSTOP')
    const failed = await waitForSession(app, stuck.id, (s) => expect(s.state).toBe('failed'), 3000)
    const detectedMs = Date.now() - stoppedAt
    console.log(`stopped loader detected after ${detectedMs} ms (limit ${SILENCE_LIMIT_MS} ms): ${failed.error}`)
    expect(failed.error).toMatch(/^the loader stopped responding: no record for \d+\.\d s$/)
    expect(detectedMs).toBeGreaterThanOrEqual(SILENCE_LIMIT_MS - STATS_INTERVAL_MS)
    expect(detectedMs).toBeLessThan(SILENCE_LIMIT_MS + 1000)
    await vi.waitFor(() => expect(alive(stuck.pid)).toBe(false))
    expect((await app.inject({ url: `/v1/sessions/${healthy.id}` })).json().state).toBe('running')
    expect(alive(healthy.pid)).toBe(true)
  })

  it('fails the session of a loader that closed its output but lives on', async () => {
    const app = await testApp({ loaderStatsIntervalMs: STATS_INTERVAL_MS })
    const closed = await start(app, 'close-stdout')
    const failed = await waitForSession(app, closed.id, (s) => expect(s.state).toBe('failed'), 3000)
    expect(failed.error).toMatch(/^the loader stopped responding/)
    await vi.waitFor(() => expect(alive(closed.pid)).toBe(false))
  })

  it('leaves a loader that keeps sending alone, for many intervals and through a busy event loop', async () => {
    const app = await testApp({ loaderStatsIntervalMs: STATS_INTERVAL_MS })
    const { id, pid } = await start(app)
    await sleep(4 * SILENCE_LIMIT_MS)
    // The loop is blocked for longer than the limit: the stats waiting in the pipe must count as heard.
    const until = Date.now() + 2 * SILENCE_LIMIT_MS
    while (Date.now() < until);
    await sleep(2 * SILENCE_LIMIT_MS)
    expect((await app.inject({ url: `/v1/sessions/${id}` })).json()).toMatchObject({ state: 'running', error: null })
    expect(alive(pid)).toBe(true)
  })
})

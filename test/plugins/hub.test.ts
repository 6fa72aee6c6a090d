import { describe, expect, it, vi } from 'vitest'
import { HUB_PING_MS, HUB_SILENCE_MS } from '../../src/probe/hub-keeper.js'
import { alive, expectProblem, fakeProbe, testApp } from '../helpers/app.js'

// The hub the service keeps warm, with the fake loader standing in for `udplat-probe --keep-hub`.

const host = async (app: Awaited<ReturnType<typeof testApp>>) => (await app.inject({ url: '/v1/host' })).json().hub
const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

describe('the warm hub', () => {
  it('is started with the service, reported by /readyz and /v1/host, and stopped with it', async () => {
    const probe = fakeProbe('run')
    const app = await testApp({ warmHub: true })
    await vi.waitFor(() => expect(app.hub.status.running).toBe(true))
    const keeper = probe()
    expect(keeper.argv).toEqual(['--keep-hub', '--format', 'bin', '--stats-interval-ms', String(HUB_PING_MS)])
    expect(await host(app)).toEqual({ kept: true, running: true, plan: 'tracepoint', error: null })
    const ready = await app.inject({ url: '/readyz' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json().hubPlan).toBe('tracepoint')
    await app.close()
    expect(alive(keeper.pid)).toBe(false)
  }, 30_000)

  it('runs its keeper in the loaders\' environment alone, nothing of the service\'s', async () => {
    const probe = fakeProbe('run')
    const loaderEnv = { PATH: process.env.PATH, FAKE_PROBE_INFO: process.env.FAKE_PROBE_INFO }
    const app = await testApp({ warmHub: true, token: 'correct-horse-battery-staple', loaderEnv })
    await vi.waitFor(() => expect(app.hub.status.running).toBe(true))
    expect(probe().env).toEqual(loaderEnv)
  }, 30_000)

  it('stays ready while its hub answers the keeper, one keeper\'s death no alarm: another takes its place at once', async () => {
    const probe = fakeProbe('run')
    const app = await testApp({ warmHub: true, hubRestartMs: 100 })
    await vi.waitFor(() => expect(app.hub.status.running).toBe(true))
    const first = probe().pid
    // Answered for longer than the silence that would make it not ready.
    await sleep(2 * HUB_SILENCE_MS)
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200)
    process.kill(first, 'SIGKILL')
    const statuses: number[] = []
    for (const started = Date.now(); Date.now() - started < 2 * HUB_SILENCE_MS; await sleep(20)) {
      statuses.push((await app.inject({ url: '/readyz' })).statusCode)
    }
    expect(statuses.filter((status) => status !== 200)).toEqual([])
    // /readyz ran the fake loader once (--list-plans, reused since): the last to start is the new keeper.
    expect(probe().argv).toContain('--keep-hub')
    expect(probe().pid).not.toBe(first)
    expect(alive(probe().pid)).toBe(true)
  }, 30_000)

  it('is not ready once its hub stops answering, and a session is refused at once meanwhile, with no loader run', async () => {
    process.env.FAKE_PROBE_HUB = 'stopped'
    const probe = fakeProbe('run')
    try {
      const app = await testApp({ warmHub: true })
      await vi.waitFor(() => expect(probe().argv).toContain('--keep-hub'))
      const detail = await vi.waitFor(async () => expectProblem(await app.inject({ url: '/readyz' }), 503, 'UDPLAT_NOT_READY').detail,
        { timeout: 5000, interval: 20 })
      expect(detail).toMatch(/^the hub has not answered for \d+\.\d s: it is stopped or stuck$/)
      expect(await host(app)).toMatchObject({ running: false, plan: null, error: expect.stringMatching(/^the hub has not answered/) })
      const refused = await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} })
      expect(expectProblem(refused, 503, 'UDPLAT_NOT_READY').detail).toMatch(/^the hub has not answered for \d+\.\d s: it is stopped or stuck$/)
      // No session's loader ran: the last fake loader to start listed the plans for /readyz.
      expect(probe().argv).toEqual(['--list-plans'])
    } finally {
      delete process.env.FAKE_PROBE_HUB
    }
  }, 30_000)

  it('is started again when it dies, and /readyz says why meanwhile', async () => {
    process.env.FAKE_PROBE_HUB = 'die'
    const probe = fakeProbe('run')
    try {
      const app = await testApp({ warmHub: true, hubRestartMs: 300 })
      await vi.waitFor(() => expect(probe().argv).toContain('--keep-hub'))
      const first = probe().pid
      await vi.waitFor(async () => expect(await host(app)).toMatchObject({ running: false, error: 'the hub exited' }))
      expect(expectProblem(await app.inject({ url: '/readyz' }), 503, 'UDPLAT_NOT_READY').detail).toBe('the hub exited')
      await vi.waitFor(() => expect(probe().pid).not.toBe(first), { timeout: 5000 })
    } finally {
      delete process.env.FAKE_PROBE_HUB
    }
  }, 30_000)

  it('keeps trying, and /readyz says why, when the hub cannot start', async () => {
    process.env.FAKE_PROBE_HUB = 'error'
    try {
      const app = await testApp({ warmHub: true, hubRestartMs: 100 })
      await vi.waitFor(async () => expect(await host(app)).toMatchObject({ running: false, error: 'failed to start the hub: fake refusal' }))
      expect(expectProblem(await app.inject({ url: '/readyz' }), 503, 'UDPLAT_NOT_READY').detail).toBe('failed to start the hub: fake refusal')
    } finally {
      delete process.env.FAKE_PROBE_HUB
    }
  }, 30_000)
})

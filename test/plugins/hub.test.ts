import { describe, expect, it, vi } from 'vitest'
import { alive, expectProblem, fakeProbe, testApp } from '../helpers/app.js'

// The hub the service keeps warm, with the fake loader standing in for `udplat-probe --keep-hub`.

const host = async (app: Awaited<ReturnType<typeof testApp>>) => (await app.inject({ url: '/v1/host' })).json().hub

describe('the warm hub', () => {
  it('is started with the service, reported by /readyz and /v1/host, and stopped with it', async () => {
    const probe = fakeProbe('run')
    const app = await testApp({ warmHub: true })
    await vi.waitFor(() => expect(app.hub.status.running).toBe(true))
    const keeper = probe()
    expect(keeper.argv).toEqual(['--keep-hub', '--format', 'bin'])
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

  it('is started again when it dies, and /readyz says why meanwhile', async () => {
    process.env.FAKE_PROBE_HUB = 'die'
    const probe = fakeProbe('run')
    try {
      const app = await testApp({ warmHub: true, hubRestartMs: 300 })
      await vi.waitFor(() => expect(probe().argv).toContain('--keep-hub'))
      const first = probe().pid
      await vi.waitFor(async () => expect(await host(app)).toMatchObject({ running: false, error: 'the hub exited' }))
      expect(expectProblem(await app.inject({ url: '/readyz' }), 503, 'UDPLAT_NOT_READY').detail).toBe('the hub is not running: the hub exited')
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
      expect(expectProblem(await app.inject({ url: '/readyz' }), 503, 'UDPLAT_NOT_READY').detail).toBe('the hub is not running: failed to start the hub: fake refusal')
    } finally {
      delete process.env.FAKE_PROBE_HUB
    }
  }, 30_000)
})

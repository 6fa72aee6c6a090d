import { rmSync, existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { expectProblem, fakeProbe, testApp } from '../../helpers/app.js'

describe('GET /v1/host', () => {
  it('reports the kernel, its plans with reasons, the limits and the usage', async () => {
    const app = await testApp({ maxSessions: 4, maxBufferedEvents: 50_000, retentionSeconds: 60 })
    await app.inject({ method: 'POST', url: '/v1/sessions', payload: { bufferEvents: 2000 } })
    const res = await app.inject({ url: '/v1/host' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({
      kernel: '6.18.0-fake',
      btf: true,
      autoPlan: 'tracepoint',
      plans: [
        { name: 'fentry', available: false, reason: 'fexit/__udp_enqueue_schedule_skb: Operation not permitted (-1)' },
        { name: 'kprobe', available: false, reason: 'kprobes not configured' },
        { name: 'tracepoint', available: true, reason: null }
      ],
      limits: {
        maxSessions: 4,
        maxBufferedEvents: 50_000,
        retentionSeconds: 60,
        maxEndedSessions: 100,
        bufferEvents: { min: 100, max: 1_000_000, default: 10_000 },
        ttlSeconds: { min: 1, max: 604_800, default: 3600 },
        waitMs: { max: 30_000 }
      },
      hub: { kept: false, running: false, plan: null, error: null },
      usage: { activeSessions: 1, keptSessions: 1, reservedEvents: 2000 }
    })
  })

  it('runs the loader at most once per cache period', async () => {
    const probe = fakeProbe('run')
    const app = await testApp({ hostInfoCacheMs: 60_000 })
    expect((await app.inject({ url: '/v1/host' })).statusCode).toBe(200)
    const { argv } = probe()
    expect(argv).toEqual(['--list-plans'])
    rmSync(process.env.FAKE_PROBE_INFO!)
    expect((await app.inject({ url: '/v1/host' })).statusCode).toBe(200)
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200)
    expect(existsSync(process.env.FAKE_PROBE_INFO!)).toBe(false)
  })

  it('answers 503 problem+json when the loader cannot be run', async () => {
    const app = await testApp({ probePath: '/nonexistent/udplat-probe' })
    const problem = expectProblem(await app.inject({ url: '/v1/host' }), 503, 'UDPLAT_LOADER_UNAVAILABLE')
    expect(problem.detail).toBe('cannot run the loader /nonexistent/udplat-probe: no such file')
  })

  it('needs the token', async () => {
    const app = await testApp({ token: 'correct-horse-battery-staple' })
    expectProblem(await app.inject({ url: '/v1/host' }), 401, 'UDPLAT_UNAUTHORIZED')
  })
})

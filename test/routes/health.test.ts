import { describe, expect, it } from 'vitest'
import { expectProblem, fakeProbe, testApp } from '../helpers/app.js'

const TOKEN = 'correct-horse-battery-staple'

describe('GET /healthz', () => {
  it('answers while the process serves HTTP, without a token', async () => {
    const app = await testApp({ token: TOKEN, probePath: '/nonexistent/udplat-probe' })
    const res = await app.inject({ url: '/healthz' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'ok' })
  })
})

describe('GET /readyz', () => {
  it('is ready when the loader runs and the kernel has BTF and a plan, without a token', async () => {
    const app = await testApp({ token: TOKEN })
    const res = await app.inject({ url: '/readyz' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'ready', kernel: '6.18.0-fake', autoPlan: 'tracepoint', hubPlan: null })
  })

  it.each([
    ['the kernel has no BTF', 'no-btf' as const, 'kernel 6.18.0-fake has no BTF (/sys/kernel/btf/vmlinux), which every attach plan needs'],
    ['no plan is available', 'none' as const, 'no attach plan is available on kernel 5.4.0-fake: fentry: no fentry; kprobe: no kprobe; tracepoint: no tracepoint'],
    ['the loader prints no plan list', 'garbage' as const, '--list-plans exited with code 4: fake: cannot list plans']
  ])('answers 503 problem+json when %s', async (_, plans, detail) => {
    fakeProbe('run', { plans })
    const app = await testApp()
    expect(expectProblem(await app.inject({ url: '/readyz' }), 503, 'UDPLAT_NOT_READY').detail).toContain(detail)
  })

  it('answers 503 problem+json when the loader is missing', async () => {
    const app = await testApp({ probePath: '/nonexistent/udplat-probe' })
    const problem = expectProblem(await app.inject({ url: '/readyz' }), 503, 'UDPLAT_NOT_READY')
    expect(problem.detail).toBe('cannot run the loader /nonexistent/udplat-probe: no such file')
  })
})

import { execFileSync, spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { startProbe } from './probe.js'
import { PROBE } from './workload.js'

// This host allows tracepoints only: fexit attach is refused (ftrace locked down) and kprobes are not configured.
describe('attach plan selection on this host', () => {
  it('--list-plans names every plan with the reason it is refused', () => {
    const plans = JSON.parse(execFileSync(PROBE, ['--list-plans'], { encoding: 'utf8' }))
    console.log(JSON.stringify(plans, null, 2))
    expect(plans.btf).toBe(true)
    expect(plans.auto).toBe('tracepoint')
    expect(plans.plans).toEqual([
      { name: 'fentry', available: false, reason: expect.stringMatching(/^fexit\/__udp_enqueue_schedule_skb: Operation not permitted/) },
      { name: 'kprobe', available: false, reason: expect.stringMatching(/kprobes not configured/) },
      { name: 'tracepoint', available: true }
    ])
  })

  it('auto picks the tracepoint plan and says in hello why the others lost', async () => {
    const probe = await startProbe(['--port', '9'])
    const run = await probe.stop()
    expect(run.hello.plan).toBe('tracepoint')
    expect(run.hello.marks).toEqual(['rx', 'arrive', 'enqueue', 'read', 'return'])
    expect(run.hello.notes).toMatch(/^fentry: fexit\/__udp_enqueue_schedule_skb: Operation not permitted \(-1\); kprobe: kprobes not configured/)
  })

  it.each(['fentry', 'kprobe'])('an explicit %s plan fails with its reason and an error record', (plan) => {
    const run = spawnSync(PROBE, ['--plan', plan, '--format', 'json', '--port', '9'], { encoding: 'utf8' })
    expect(run.status).toBe(1)
    const error = JSON.parse(run.stdout.trim().split('\n').at(-1)!)
    expect(error).toMatchObject({ type: 'error', err: -95, message: expect.stringMatching(new RegExp(`^plan ${plan} is not available: `)) })
    expect(run.stderr).toContain(error.message)
  })
})

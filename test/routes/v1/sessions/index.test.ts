import { statSync } from 'node:fs'
import { describe, expect, it, vi } from 'vitest'
import { alive, expectProblem, fakeProbe, OWN_CGROUP, testApp, waitForSession } from '../../../helpers/app.js'

type App = Awaited<ReturnType<typeof testApp>>

/** The network namespace this process runs in, which exists. */
const OWN_NETNS = statSync('/proc/self/ns/net').ino

const create = (app: App, body: object = {}) => app.inject({ method: 'POST', url: '/v1/sessions', payload: body })

describe('POST /v1/sessions', () => {
  it('answers 201 with a running session, its Location and the plan from hello', async () => {
    const app = await testApp()
    const res = await create(app, { name: 'dns', filter: { ports: [53] }, plan: 'kprobe' })
    expect(res.statusCode).toBe(201)
    const session = res.json()
    expect(res.headers.location).toBe(`/v1/sessions/${session.id}`)
    expect(session).toMatchObject({
      name: 'dns',
      state: 'running',
      filter: { ports: [53] },
      thresholdUs: 3000,
      planRequested: 'kprobe',
      plan: 'kprobe',
      marks: ['arrive', 'enqueue', 'read', 'return'],
      kernelRelease: '6.18.0-fake',
      notes: 'fake loader',
      bufferEvents: 10000,
      ttlSeconds: 3600,
      error: null,
      endedAt: null,
      lastSeq: 0
    })
    expect(session.id).toMatch(/^[A-Za-z0-9_-]{21}$/)
    expect(Date.parse(session.expiresAt) - Date.parse(session.createdAt)).toBe(3600_000)
    expect(Date.parse(session.startedAt)).toBeGreaterThanOrEqual(Date.parse(session.createdAt))
  })

  it('starts a session with every default from an empty object', async () => {
    const probe = fakeProbe('run')
    const app = await testApp()
    const res = await create(app, {})
    expect(res.statusCode).toBe(201)
    expect(res.json()).toMatchObject({ filter: {}, thresholdUs: 3000, planRequested: 'auto', direction: 'receive', reader: true, bufferEvents: 10000, ttlSeconds: 3600 })
    expect(probe().argv).toEqual(['--format', 'bin', '--shared', '--plan', 'auto', '--direction', 'receive', '--threshold-us', '3000', '--stats-interval-ms', '1000'])
  })

  it('passes the direction to the loader, and shows it', async () => {
    const probe = fakeProbe('run')
    const app = await testApp()
    const res = await app.inject({ method: 'POST', url: '/v1/sessions', payload: { direction: 'send', filter: { ports: [5000] } } })
    expect(res.statusCode).toBe(201)
    expect(probe().argv).toEqual(expect.arrayContaining(['--direction', 'send']))
    const session = await waitForSession(app, res.json().id, (s) => expect(s.state).toBe('running'))
    expect(session).toMatchObject({ direction: 'send', filter: { ports: [5000] } })
  })

  it('gives a send session no reader, and refuses one asked for with 400, starting nothing', async () => {
    const probe = fakeProbe('run')
    const app = await testApp()
    const res = await app.inject({ method: 'POST', url: '/v1/sessions', payload: { direction: 'send' } })
    expect(res.statusCode).toBe(201)
    expect(probe().argv).toContain('--no-reader')
    const session = await waitForSession(app, res.json().id, (s) => expect(s.state).toBe('running'))
    expect(session).toMatchObject({ reader: false, counts: { readerVerdicts: null } })
    await app.inject({ method: 'DELETE', url: `/v1/sessions/${res.json().id as string}` })
    expectProblem(await app.inject({ method: 'POST', url: '/v1/sessions', payload: { direction: 'send', reader: true } }), 400, 'UDPLAT_VALIDATION')
    expect((await app.inject({ url: '/v1/sessions?state=running' })).json().sessions).toEqual([])
  })

  it('refuses an unknown direction with 400 and starts nothing', async () => {
    fakeProbe('run')
    const app = await testApp()
    expectProblem(await app.inject({ method: 'POST', url: '/v1/sessions', payload: { direction: 'sideways' } }), 400, 'UDPLAT_VALIDATION')
    expect((await app.inject({ url: '/v1/sessions' })).json().sessions).toEqual([])
  })

  it('passes the filter to the loader as its command line', async () => {
    const probe = fakeProbe('run')
    const app = await testApp()
    const res = await create(app, {
      thresholdUs: 250,
      filter: {
        ports: [53, 5353],
        localAddrs: ['127.0.0.0/8', '::1/128'],
        remoteAddrs: ['10.0.0.0/8'],
        remotePort: 40000,
        pid: 42,
        comm: 'unbound',
        cgroup: OWN_CGROUP.path,
        netns: OWN_NETNS,
        family: 'ipv6'
      }
    })
    expect(res.statusCode).toBe(201)
    expect(probe().argv).toEqual([
      '--format', 'bin', '--shared', '--plan', 'auto', '--direction', 'receive', '--threshold-us', '250',
      '--port', '53', '--port', '5353',
      '--laddr', '127.0.0.0/8', '--laddr', '::1/128',
      '--raddr', '10.0.0.0/8',
      '--rport', '40000', '--pid', '42', '--comm', 'unbound',
      '--cgroup', OWN_CGROUP.path, '--netns', String(OWN_NETNS), '--family', '6',
      '--stats-interval-ms', '1000'
    ])
  })

  it('fails with the loader\'s error record as the reason and leaves nothing behind', async () => {
    fakeProbe('error')
    const app = await testApp()
    const problem = expectProblem(await create(app), 503, 'UDPLAT_LOADER_FAILED')
    expect(problem.detail).toBe('failed to load BPF object: Operation not permitted')
    expect((await app.inject({ url: '/v1/sessions' })).json()).toEqual({ sessions: [] })
  })

  it('fails when the loader exits without any record, quoting its stderr', async () => {
    fakeProbe('silent')
    const app = await testApp()
    const problem = expectProblem(await create(app), 503, 'UDPLAT_LOADER_FAILED')
    expect(problem.detail).toBe('the loader exited with code 3 before attaching its probes: fake: crashed before attaching')
    expect((await app.inject({ url: '/v1/sessions' })).json()).toEqual({ sessions: [] })
  })

  it('fails when the loader binary is missing', async () => {
    const app = await testApp({ probePath: '/nonexistent/udplat-probe' })
    const problem = expectProblem(await create(app), 503, 'UDPLAT_LOADER_FAILED')
    expect(problem.detail).toBe('cannot run the loader /nonexistent/udplat-probe: no such file')
  })

  it('fails when the loader is not executable', async () => {
    const app = await testApp({ probePath: new URL('../../../fixtures/records.bin', import.meta.url).pathname })
    const problem = expectProblem(await create(app), 503, 'UDPLAT_LOADER_FAILED')
    expect(problem.detail).toMatch(/^cannot run the loader .*records\.bin: permission denied$/)
  })

  it('kills a loader that never says hello and fails', async () => {
    const probe = fakeProbe('no-hello')
    // Long enough for the fake loader (a node process) to start and say who it is, even on a busy machine.
    const app = await testApp({ loaderStartTimeoutMs: 2000 })
    const problem = expectProblem(await create(app), 503, 'UDPLAT_LOADER_FAILED')
    expect(problem.detail).toBe('the loader did not attach its probes within 2000 ms')
    expect((await app.inject({ url: '/v1/sessions' })).json()).toEqual({ sessions: [] })
    expect(alive(probe().pid)).toBe(false)
  })

  it('refuses sessions beyond UDPLAT_MAX_SESSIONS with 429', async () => {
    const app = await testApp({ maxSessions: 2 })
    expect((await create(app)).statusCode).toBe(201)
    expect((await create(app)).statusCode).toBe(201)
    const problem = expectProblem(await create(app), 429, 'UDPLAT_SESSION_LIMIT')
    expect(problem.detail).toContain('at most 2 sessions')
  })

  it('refuses a buffer beyond what UDPLAT_MAX_BUFFERED_EVENTS leaves, and frees it on delete', async () => {
    const app = await testApp({ maxBufferedEvents: 1000 })
    const first = (await create(app, { bufferEvents: 600 })).json()
    const problem = expectProblem(await create(app, { bufferEvents: 500 }), 429, 'UDPLAT_BUFFER_LIMIT')
    expect(problem.detail).toBe('bufferEvents 500 exceeds the 400 events left under UDPLAT_MAX_BUFFERED_EVENTS')
    expect((await create(app, { bufferEvents: 400 })).statusCode).toBe(201)
    await app.inject({ method: 'DELETE', url: `/v1/sessions/${first.id}` })
    expect((await create(app, { bufferEvents: 500 })).statusCode).toBe(201)
  })
})

describe('GET /v1/sessions', () => {
  it('lists sessions, filtered by state', async () => {
    const app = await testApp()
    const a = (await create(app, { name: 'a' })).json()
    const b = (await create(app, { name: 'b' })).json()
    await app.inject({ method: 'DELETE', url: `/v1/sessions/${a.id}` })
    fakeProbe('die-after-hello')
    const c = (await create(app, { name: 'c' })).json()
    await waitForSession(app, c.id, (session) => expect(session.state).toBe('failed'))

    const all = (await app.inject({ url: '/v1/sessions' })).json()
    expect(all.sessions.map((s: { id: string }) => s.id)).toEqual([b.id, c.id])
    const running = (await app.inject({ url: '/v1/sessions?state=running' })).json()
    expect(running.sessions.map((s: { id: string }) => s.id)).toEqual([b.id])
  })

  it('rejects an unknown state', async () => {
    const app = await testApp()
    const problem = expectProblem(await app.inject({ url: '/v1/sessions?state=sleeping' }), 400, 'UDPLAT_VALIDATION')
    expect(problem.detail).toContain('querystring/state')
  })
})

describe('GET /v1/sessions/{id}', () => {
  it('returns the session with counts from the latest stats', async () => {
    fakeProbe('run', { events: 3, drops: 2 })
    const app = await testApp()
    const { id } = (await create(app)).json()
    const session = await waitForSession(app, id, (s) => expect(s.counts.drops).toBe(2))
    expect(session.lastSeq).toBe(5)
    expect(session.counts).toEqual({
      matched: 30,
      slow: 3,
      emitted: 3,
      kernelLost: 0,
      evicted: 0,
      drops: 2,
      dropsLost: 0,
      dropsByReason: { SOCKET_RCVBUFF: 2 },
      stale: 0,
      untracked: 0,
      readerVerdicts: { busy: 0, runqueue: 0, blocked: 0, unknown: 0 }
    })
  })

  it('answers 404 problem+json for an unknown id', async () => {
    const app = await testApp()
    const problem = expectProblem(await app.inject({ url: '/v1/sessions/nope' }), 404, 'UDPLAT_SESSION_NOT_FOUND')
    expect(problem).toMatchObject({ detail: 'no session with id nope', instance: '/v1/sessions/nope' })
  })

  it('marks a session whose loader dies as failed, with the reason', async () => {
    fakeProbe('die-after-hello', { events: 2 })
    const app = await testApp()
    const { id } = (await create(app)).json()
    const session = await waitForSession(app, id, (s) => expect(s.state).toBe('failed'))
    expect(session).toMatchObject({ state: 'failed', error: 'ring buffer poll failed: Bad address', lastSeq: 2 })
  })

  it('fails a session whose loader sends a malformed record, and kills the loader', async () => {
    const probe = fakeProbe('garbage', { events: 1 })
    const app = await testApp()
    const { id } = (await create(app)).json()
    const session = await waitForSession(app, id, (s) => expect(s.state).toBe('failed'))
    expect(session).toMatchObject({ error: 'the loader sent a malformed record: unknown record type 99 at byte 5376', lastSeq: 1 })
    expect(alive(probe().pid)).toBe(false)
  })

  it('fails a session whose loader exits inside a record, the cut record its reason', async () => {
    fakeProbe('cut-record', { events: 2 })
    const app = await testApp()
    const { id } = (await create(app)).json()
    const session = await waitForSession(app, id, (s) => expect(s.state).toBe('failed'))
    expect(session).toMatchObject({ error: 'the loader sent a malformed record: stream ended inside a record (132 bytes left)', lastSeq: 2 })
  })

  it('keeps an ended session readable for the retention period, then removes it', async () => {
    fakeProbe('die-after-hello')
    const app = await testApp({ retentionSeconds: 1 })
    const { id } = (await create(app)).json()
    const failed = await waitForSession(app, id, (s) => expect(s.state).toBe('failed'))
    expect(Date.parse(failed.endedAt)).toBeGreaterThanOrEqual(Date.parse(failed.startedAt))
    await vi.waitFor(async () => expectProblem(await app.inject({ url: `/v1/sessions/${id}` }), 404, 'UDPLAT_SESSION_NOT_FOUND'), { timeout: 3000 })
    expect(Date.now() - Date.parse(failed.endedAt)).toBeGreaterThanOrEqual(950)
  })

  it('keeps at most maxEndedSessions ended sessions: the oldest to have ended goes first', async () => {
    fakeProbe('die-after-hello')
    const app = await testApp({ maxEndedSessions: 2 })
    const ids: string[] = []
    for (let i = 0; i < 4; i++) {
      const { id } = (await create(app)).json()
      await waitForSession(app, id, (s) => expect(s.state).toBe('failed'))
      ids.push(id)
    }
    fakeProbe('run')
    const running = (await create(app)).json().id
    const kept = (await app.inject({ url: '/v1/sessions' })).json().sessions.map((s: { id: string }) => s.id)
    expect(kept.sort()).toEqual([ids[2], ids[3], running].sort())
    expectProblem(await app.inject({ url: `/v1/sessions/${ids[0]}` }), 404, 'UDPLAT_SESSION_NOT_FOUND')
  })

  it('expires a session when its TTL runs out, stopping the loader, and keeps it readable', async () => {
    const probe = fakeProbe('run')
    const app = await testApp()
    const { id } = (await create(app, { ttlSeconds: 1 })).json()
    const expired = await waitForSession(app, id, (s) => expect(s.state).toBe('expired'), 3000)
    expect(expired.error).toBeNull()
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expired.expiresAt))
    expect(alive(probe().pid)).toBe(false)
  })
})

describe('DELETE /v1/sessions/{id}', () => {
  it('stops the loader, waits for it to exit and removes the session', async () => {
    const probe = fakeProbe('run')
    const app = await testApp()
    const { id } = (await create(app)).json()
    const { pid } = probe()
    expect(alive(pid)).toBe(true)
    const res = await app.inject({ method: 'DELETE', url: `/v1/sessions/${id}` })
    expect(res.statusCode).toBe(204)
    expect(res.body).toBe('')
    expect(alive(pid)).toBe(false)
    expectProblem(await app.inject({ url: `/v1/sessions/${id}` }), 404, 'UDPLAT_SESSION_NOT_FOUND')
  })

  it('kills a loader that ignores SIGTERM after the grace period', async () => {
    const probe = fakeProbe('ignore-term')
    const app = await testApp({ loaderStopGraceMs: 200 })
    const { id } = (await create(app)).json()
    const { pid } = probe()
    const res = await app.inject({ method: 'DELETE', url: `/v1/sessions/${id}` })
    expect(res.statusCode).toBe(204)
    expect(alive(pid)).toBe(false)
  })

  it('removes an ended session', async () => {
    fakeProbe('die-after-hello')
    const app = await testApp()
    const { id } = (await create(app)).json()
    await waitForSession(app, id, (s) => expect(s.state).toBe('failed'))
    expect((await app.inject({ method: 'DELETE', url: `/v1/sessions/${id}` })).statusCode).toBe(204)
    expect((await app.inject({ url: '/v1/sessions' })).json()).toEqual({ sessions: [] })
  })

  it('answers 404 problem+json for an unknown id', async () => {
    const app = await testApp()
    expectProblem(await app.inject({ method: 'DELETE', url: '/v1/sessions/nope' }), 404, 'UDPLAT_SESSION_NOT_FOUND')
  })

  it('stops a session still starting, and its pending POST answers 409, not a loader failure', async () => {
    const probe = fakeProbe('no-hello')
    const app = await testApp({ loaderStartTimeoutMs: 30_000 })
    const creating = create(app)
    await vi.waitFor(() => expect(alive(probe().pid)).toBe(true))
    const [starting] = (await app.inject({ url: '/v1/sessions' })).json().sessions
    expect(starting.state).toBe('starting')
    const deleted = await app.inject({ method: 'DELETE', url: `/v1/sessions/${starting.id}` })
    expect(deleted.statusCode).toBe(204)
    const problem = expectProblem(await creating, 409, 'UDPLAT_SESSION_DELETED')
    expect(problem.detail).toBe(`session ${starting.id} was deleted before its probes were attached`)
    expect(alive(probe().pid)).toBe(false)
    expect((await app.inject({ url: '/v1/sessions' })).json()).toEqual({ sessions: [] })
  })

  it('kills a loader still attaching when the app closes, without waiting for its start timeout', async () => {
    const probe = fakeProbe('no-hello')
    const app = await testApp({ loaderStartTimeoutMs: 30_000 })
    const creating = create(app)
    await vi.waitFor(() => expect(alive(probe().pid)).toBe(true))
    const started = Date.now()
    await app.close()
    expect(Date.now() - started).toBeLessThan(2000)
    expect(alive(probe().pid)).toBe(false)
    expectProblem(await creating, 503, 'UDPLAT_LOADER_FAILED')
  })

  it('stops every loader when the app closes', async () => {
    const probe = fakeProbe('run')
    const app = await testApp()
    await create(app)
    const { pid } = probe()
    await app.close()
    expect(alive(pid)).toBe(false)
  })
})

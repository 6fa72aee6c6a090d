import { statSync } from 'node:fs'
import { describe, expect, it, vi } from 'vitest'
import { TEXT_PATTERN } from '../../../../src/schemas/common.js'
import { alive, expectProblem, fakeProbe, OWN_CGROUP, sharedApp, testApp, waitForSession } from '../../../helpers/app.js'

type App = Awaited<ReturnType<typeof testApp>>

/** The network namespace this process runs in, which exists. */
const OWN_NETNS = statSync('/proc/self/ns/net').ino

const create = (app: App, body: object = {}) => app.inject({ method: 'POST', url: '/v1/sessions', payload: body })
/** A POST of JSON text as it is. */
const postText = (app: App, payload: string) => app.inject({ method: 'POST', url: '/v1/sessions', payload, headers: { 'content-type': 'application/json' } })

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

  it.each([
    [{ thresholdUs: -1 }, 'body/thresholdUs must be >= 0'],
    [{ thresholdUs: 1.5 }, 'body/thresholdUs must be integer'],
    [{ plan: 'uprobe' }, 'body/plan'],
    [{ bufferEvents: 10 }, 'body/bufferEvents must be >= 100'],
    [{ ttlSeconds: 0 }, 'body/ttlSeconds must be >= 1'],
    [{ name: 'x'.repeat(65) }, 'body/name must NOT have more than 64 characters'],
    [{ colour: 'red' }, 'body/colour must NOT have additional properties'],
    [{ filter: { port: 53 } }, 'body/filter/port must NOT have additional properties'],
    [{ filter: { ports: [0] } }, 'body/filter/ports/0 must be >= 1'],
    [{ filter: { ports: [70000] } }, 'body/filter/ports/0 must be <= 65535'],
    [{ filter: { ports: [53, 53] } }, 'body/filter/ports must NOT have duplicate items'],
    [{ filter: { ports: Array.from({ length: 17 }, (_, i) => i + 1) } }, 'body/filter/ports must NOT have more than 16 items'],
    [{ filter: { localAddrs: ['10.0.0.0'] } }, 'body/filter/localAddrs/0 must match format "cidr"'],
    [{ filter: { localAddrs: ['10.0.0.0/33'] } }, 'body/filter/localAddrs/0 must match format "cidr"'],
    [{ filter: { remoteAddrs: ['300.0.0.0/8'] } }, 'body/filter/remoteAddrs/0 must match format "cidr"'],
    [{ filter: { remoteAddrs: ['2001:db8::/129'] } }, 'body/filter/remoteAddrs/0 must match format "cidr"'],
    [{ filter: { localAddrs: Array.from({ length: 9 }, (_, i) => `10.${i}.0.0/16`) } }, 'body/filter/localAddrs must NOT have more than 8 items'],
    [{ filter: { comm: 'sixteen-chars-xx' } }, 'body/filter/comm must NOT have more than 15 characters'],
    [{ filter: { comm: 'ééééééééé' } }, 'body/filter/comm must match format "comm"'],
    [{ filter: { cgroup: 'system.slice' } }, 'body/filter/cgroup must match format "cgroup"'],
    [{ filter: { cgroup: '/a/../b' } }, 'body/filter/cgroup must match format "cgroup"'],
    [{ filter: { cgroup: '/./' } }, 'body/filter/cgroup must match format "cgroup"'],
    [{ filter: { cgroup: '/a//b' } }, 'body/filter/cgroup must match format "cgroup"'],
    [{ filter: { cgroup: '/a/' } }, 'body/filter/cgroup must match format "cgroup"'],
    [{ filter: { localAddrs: [] } }, 'body/filter/localAddrs must NOT have fewer than 1 items'],
    [{ filter: { remoteAddrs: [] } }, 'body/filter/remoteAddrs must NOT have fewer than 1 items'],
    [{ filter: { cgroup: '18446744073709551616' } }, 'body/filter/cgroup must match format "cgroup"'],
    [{ filter: { family: 'ipx' } }, 'body/filter/family'],
    [{ filter: { pid: 0 } }, 'body/filter/pid must be >= 1'],
    // A JSON body says what it means: no coercion, unlike query strings.
    [{ thresholdUs: '250' }, 'body/thresholdUs must be integer'],
    [{ filter: { ports: ['53'] } }, 'body/filter/ports/0 must be integer'],
    [{ bufferEvents: true }, 'body/bufferEvents must be integer'],
    [{ name: 5 }, 'body/name must be string']
  ])('rejects %j as problem+json 400 naming the field', async (body, detail) => {
    const app = await sharedApp()
    const problem = expectProblem(await create(app, body), 400, 'UDPLAT_VALIDATION')
    expect(problem.detail).toContain(detail)
    expect(problem.instance).toBe('/v1/sessions')
  })

  it.each([
    ['name', { name: 'a\ud800b' }], ['name', { name: 'a\u0000b' }], ['name', { name: '\udc00\ud83d' }],
    ['filter/comm', { filter: { comm: 'a\udfffb' } }], ['filter/comm', { filter: { comm: 'a\u0000' } }],
    ['filter/cgroup', { filter: { cgroup: '/a\ud800' } }], ['filter/cgroup', { filter: { cgroup: '/a\u0000b' } }],
    ['filter/localAddrs/0', { filter: { localAddrs: ['10.0.0.0/8\ud800'] } }]
  ])('refuses %s that is not Unicode or holds a NUL with 400, by its schema', async (field, body) => {
    const probe = fakeProbe('run')
    const app = await sharedApp()
    const res = await create(app, body)
    const problem = expectProblem(res, 400, 'UDPLAT_VALIDATION')
    expect(problem.detail).toMatch(new RegExp(`^body/${field} must`))
    expect(() => JSON.parse(res.body)).not.toThrow()
    expect(() => probe()).toThrow()
    const document = app.swagger() as any
    const schemas = [document.components.schemas.Filter.properties, document.paths['/v1/sessions'].post.requestBody.content['application/json'].schema.properties]
    const [top, inner] = field.split('/')
    const schema = inner === undefined ? schemas[1][top!] : schemas[0][inner].items ?? schemas[0][inner]
    expect(schema.pattern).toBe(TEXT_PATTERN)
  })

  it('takes and gives back intact any Unicode text: other scripts, emoji, direction marks', async () => {
    const app = await testApp()
    const name = '\u202eudpwork 日本語 🙂 \u2067x\u2069'
    const res = await create(app, { name })
    expect(res.statusCode).toBe(201)
    expect(res.json().name).toBe(name)
    expect((await app.inject({ url: res.headers.location as string })).json().name).toBe(name)
  })

  it('accepts a cgroup given as a numeric id, or under the cgroup2 mount, and IPv6 prefixes', async () => {
    const app = await testApp()
    const res = await create(app, { filter: { cgroup: OWN_CGROUP.id, remoteAddrs: ['2001:db8::/32', '0.0.0.0/0'] } })
    expect(res.statusCode).toBe(201)
    expect((await create(app, { filter: { cgroup: OWN_CGROUP.mounted } })).statusCode).toBe(201)
  })

  it.each([
    ['a path that does not exist', '/no-such-cgroup-of-udplat', 'no-such-cgroup-of-udplat is not a cgroup v2 directory'],
    ['a file of a cgroup', '/cgroup.procs', 'cgroup.procs is not a cgroup v2 directory'],
    ['an id no cgroup has', '18446744073709551615', 'no cgroup v2 has id 18446744073709551615']
  ])('refuses %s as a cgroup with 400, before any loader runs', async (_, cgroup, detail) => {
    const probe = fakeProbe('run')
    const app = await testApp()
    expect(expectProblem(await create(app, { filter: { cgroup } }), 400, 'UDPLAT_VALIDATION').detail).toContain(detail)
    expect(() => probe()).toThrow()
    expect((await app.inject({ url: '/v1/sessions' })).json().sessions).toEqual([])
  })

  it.each([
    [{ marks: ['rx'] }, 'body/marks: rx measures no stage of a datagram received (latency events)'],
    [{ marks: ['enqueue'] }, 'body/marks: enqueue measures no stage of a datagram received (latency events)'],
    [{ marks: ['return'] }, 'body/marks: return measures no stage of a datagram received (latency events)'],
    [{ direction: 'both', marks: ['send'] }, 'body/marks: send measures no stage of a datagram sent (send events)']
  ])('refuses marks that bound no stage, %j, with 400 naming what is missing, before any loader runs', async (body, detail) => {
    const probe = fakeProbe('run')
    const app = await testApp()
    expect(expectProblem(await create(app, body), 400, 'UDPLAT_VALIDATION').detail).toContain(`${detail}; a stage needs a mark at each end: `)
    expect(() => probe()).toThrow()
    expect((await app.inject({ url: '/v1/sessions' })).json().sessions).toEqual([])
  })

  it('refuses a netns no namespace has with 400, before any loader runs', async () => {
    const probe = fakeProbe('run')
    const app = await testApp()
    expect(expectProblem(await create(app, { filter: { netns: 1 } }), 400, 'UDPLAT_VALIDATION').detail)
      .toMatch(/^body\/filter\/netns: no network namespace this service can see has inode 1\./)
    expect(() => probe()).toThrow()
    expect((await app.inject({ url: '/v1/sessions' })).json().sessions).toEqual([])
  })

  it('answers 400, not 503, when the loader refuses its command line', async () => {
    fakeProbe('bad-arguments')
    const app = await testApp()
    const problem = expectProblem(await create(app, {}), 400, 'UDPLAT_VALIDATION')
    expect(problem.detail).toContain('bad --cgroup')
  })

  it('refuses a JSON null body with 400, and no body at all with 415, starting nothing', async () => {
    const probe = fakeProbe('run')
    const app = await testApp()
    expect(expectProblem(await postText(app, 'null'), 400, 'UDPLAT_VALIDATION').detail).toBe('body must be object')
    // What a page of another site can send without asking first: no body, no content type.
    expect(expectProblem(await app.inject({ method: 'POST', url: '/v1/sessions' }), 415, 'UDPLAT_UNSUPPORTED_MEDIA_TYPE').detail)
      .toBe('POST /v1/sessions takes a JSON body: send one as application/json ({} for every default)')
    expect(expectProblem(await postText(app, ''), 400, 'UDPLAT_BAD_REQUEST').detail).toBe('the body is empty: send a JSON object, {} for every default')
    expect(() => probe()).toThrow()
    expect((await app.inject({ url: '/v1/sessions' })).json().sessions).toEqual([])
    expect((await create(app, {})).statusCode).toBe(201)
  })

  it.each([
    ['{', 'Expected property name or \'}\' in JSON at position 1'],
    ['{"name":"a"} x', 'Unexpected non-whitespace character after JSON at position 13']
  ])('rejects %j, which is not JSON, saying where', async (payload, where) => {
    const app = await sharedApp()
    const res = await postText(app, payload)
    expect(expectProblem(res, 400, 'UDPLAT_BAD_REQUEST').detail).toBe(`the body is not valid JSON: ${where}`)
  })

  it.each([
    ['{"__proto__":{"x":1}}', 'body/__proto__'],
    ['{"filter":{"ports":[53],"__proto__":{}}}', 'body/filter/__proto__'],
    ['{"constructor":{"prototype":{"x":1}}}', 'body/constructor/prototype'],
    ['{"filter":{"comm":"a"},"x":[{"constructor":{"prototype":1}}]}', 'body/x/0/constructor/prototype']
  ])('refuses %s, valid JSON with a key that could change a prototype, naming the key', async (payload, key) => {
    const app = await sharedApp()
    const res = await postText(app, payload)
    expect(expectProblem(res, 400, 'UDPLAT_VALIDATION').detail).toBe(`${key}: this key is refused, since it could change an object's prototype`)
  })

  it('takes keys named constructor and prototype that cannot change a prototype, as any unknown key: by the schema', async () => {
    const app = await sharedApp()
    const res = await postText(app, '{"constructor":1,"prototype":{}}')
    expect(expectProblem(res, 400, 'UDPLAT_VALIDATION').detail).toBe('body/constructor must NOT have additional properties')
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

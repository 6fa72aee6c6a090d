import { describe, expect, it } from 'vitest'
import { TEXT_PATTERN } from '../../../../src/schemas/common.js'
import { expectProblem, fakeProbe, OWN_CGROUP, sharedApp, testApp } from '../../../helpers/app.js'

// POST /v1/sessions: what it refuses, with a 400 (or a 415) that says why, before any loader runs; and what it
// takes that looks as if it might be refused.

type App = Awaited<ReturnType<typeof testApp>>

const create = (app: App, body: object = {}) => app.inject({ method: 'POST', url: '/v1/sessions', payload: body })
/** A POST of JSON text as it is. */
const postText = (app: App, payload: string) => app.inject({ method: 'POST', url: '/v1/sessions', payload, headers: { 'content-type': 'application/json' } })

describe('what POST /v1/sessions refuses, and what it takes', () => {
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
})

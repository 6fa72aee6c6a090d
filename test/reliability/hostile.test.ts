import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import { problemServerOptions } from '../../src/errors.js'
import { expectProblem, fakeProbe, sharedApp, testApp, testConfig } from '../helpers/app.js'

// Hostile requests, one by one: whatever they carry, the answer is a 4xx problem+json and the service goes on.

type App = Awaited<ReturnType<typeof testApp>>

const post = async (app: App, payload: string | object, headers: Record<string, string> = {}) =>
  await app.inject({ method: 'POST', url: '/v1/sessions', payload, headers: { 'content-type': 'application/json', ...headers } })

describe('hostile bodies', () => {
  it('refuses a body over the limit (2 MiB) with 413', async () => {
    const app = await sharedApp()
    const res = await post(app, JSON.stringify({ name: 'x'.repeat(2 * 2 ** 20) }))
    expectProblem(res, 413, 'UDPLAT_BODY_TOO_LARGE')
  })

  it.each([
    ['arrays 200 000 deep', `{"filter":{"ports":${'['.repeat(200_000)}${']'.repeat(200_000)}}}`],
    ['objects 50 000 deep', `{"filter":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}`],
    ['a __proto__ key', '{"__proto__":{"thresholdUs":1}}'],
    ['a constructor.prototype key', '{"constructor":{"prototype":{"x":1}}}'],
    ['a number past float64', '{"thresholdUs":1e400}'],
    ['truncated JSON', '{"filter":{"ports":[1,'],
    ['NUL in a string', '{"filter":{"comm":"a\\u0000b"}}']
  ])('refuses %s with 400', async (_, body) => {
    const app = await sharedApp()
    const res = await post(app, body)
    expectProblem(res, 400, res.json().code)
    expect(res.json().code).toMatch(/^UDPLAT_(VALIDATION|BAD_REQUEST)$/)
  })

  it.each([
    [{ thresholdUs: -1 }], [{ thresholdUs: 1e308 }], [{ thresholdUs: 2 ** 53 + 2 }], [{ thresholdUs: 60_000_001 }], [{ thresholdUs: 0.5 }],
    [{ bufferEvents: -100 }], [{ bufferEvents: 1e9 }], [{ ttlSeconds: -1 }], [{ ttlSeconds: 2 ** 31 }],
    [{ filter: { ports: [0] } }], [{ filter: { ports: [-53] } }], [{ filter: { ports: [65536] } }], [{ filter: { ports: [53, 53] } }],
    [{ filter: { ports: Array.from({ length: 17 }, (_, i) => i + 1) } }], [{ filter: { remotePort: 1e6 } }],
    [{ filter: { pid: 0 } }], [{ filter: { pid: -1 } }], [{ filter: { pid: 2 ** 22 + 1 } }],
    [{ filter: { netns: 0 } }], [{ filter: { netns: 2 ** 32 } }], [{ filter: { cgroup: String(2n ** 64n) } }], [{ filter: { cgroup: '/a/../b' } }]
  ])('refuses the number or id in %j with 400', async (body) => {
    expectProblem(await post(await sharedApp(), body), 400, 'UDPLAT_VALIDATION')
  })

  it.each([
    '10.0.0.0/33', '::/129', '1.2.3.4/08', '1.2.3.4', '/8', '1.2.3/24', '256.0.0.0/8', 'fe80::1%eth0/64', ' 10.0.0.0/8', '10.0.0.0/8 ',
    '10.0.0.0/-1', '10.0.0.0/8/8', '::ffff:1.2.3.4/200', '10.0.0.0\n/8', '１０.0.0.0/8', ''
  ])('refuses the malformed prefix %j with 400', async (prefix) => {
    const app = await sharedApp()
    for (const side of ['localAddrs', 'remoteAddrs']) {
      const problem = expectProblem(await post(app, { filter: { [side]: [prefix] } }), 400, 'UDPLAT_VALIDATION')
      expect(problem.detail).toContain(`body/filter/${side}/0`)
    }
  })

  it.each([
    ['ñandú', 7], ['🙂🙂🙂', 12], ['дежурный', 16], ['日本語テスト', 18]
  ])('takes a non-ASCII comm %j of %d bytes when it fits the kernel\'s 15, and passes it to the loader intact', async (comm, bytes) => {
    const probe = fakeProbe('run')
    const app = await testApp()
    const res = await post(app, { filter: { comm } })
    if (bytes > 15) {
      expectProblem(res, 400, 'UDPLAT_VALIDATION')
    } else {
      expect(res.statusCode).toBe(201)
      expect(res.json().filter.comm).toBe(comm)
      expect(probe().argv).toContain(comm)
    }
  })
})

describe('hostile URLs and headers', () => {
  it.each([
    ['/v1/sessions/..', 'UDPLAT_ROUTE_NOT_FOUND'],
    ['/v1/sessions/a%20b', 'UDPLAT_VALIDATION'],
    ['/v1/sessions/%C3%B1', 'UDPLAT_VALIDATION'],
    [`/v1/sessions/${'a'.repeat(65)}`, 'UDPLAT_VALIDATION'],
    [`/v1/sessions/${'a'.repeat(5000)}`, 'UDPLAT_VALIDATION'],
    ['/v1/sessions/%zz', 'UDPLAT_BAD_REQUEST'],
    ['/v1/sessions/%', 'UDPLAT_BAD_REQUEST'],
    ['/v1/sessions/x/events?after=-1', 'UDPLAT_VALIDATION'],
    ['/v1/sessions/x/events?limit=0', 'UDPLAT_VALIDATION'],
    ['/v1/sessions/x/events?limit=10001', 'UDPLAT_VALIDATION'],
    ['/v1/sessions/x/events?waitMs=-5', 'UDPLAT_VALIDATION'],
    ['/v1/sessions/x/events?waitMs=30001', 'UDPLAT_VALIDATION'],
    ['/v1/sessions/x/events?after=1&after=2', 'UDPLAT_VALIDATION'],
    ['/v1/sessions?state=running&state=failed', 'UDPLAT_VALIDATION'],
    ['/v1/sessions?state[]=running', 'UDPLAT_VALIDATION']
  ])('answers %s with a problem', async (url, code) => {
    // As server.ts builds the app: malformed URLs are answered before routing.
    const app = buildApp(testConfig(), problemServerOptions)
    try {
      const res = await app.inject({ url })
      expect(res.statusCode).toBeGreaterThanOrEqual(400)
      expect(res.statusCode).toBeLessThan(500)
      expectProblem(res, res.statusCode, code)
    } finally {
      await app.close()
    }
  })

  it.each(['-1', 'abc', '１２', '1.5', ''])('refuses Last-Event-ID %j with 400', async (lastEventId) => {
    const app = await sharedApp()
    const res = await app.inject({ url: '/v1/sessions/x/events/stream', headers: { 'last-event-id': lastEventId } })
    expectProblem(res, 400, 'UDPLAT_VALIDATION')
  })

  it.each([
    ['text/plain', 415, 'UDPLAT_UNSUPPORTED_MEDIA_TYPE'],
    ['text/plain; charset=utf-8', 415, 'UDPLAT_UNSUPPORTED_MEDIA_TYPE'],
    ['application/x-www-form-urlencoded', 415, 'UDPLAT_UNSUPPORTED_MEDIA_TYPE'],
    ['multipart/form-data; boundary=x', 415, 'UDPLAT_UNSUPPORTED_MEDIA_TYPE'],
    ['image/png', 415, 'UDPLAT_UNSUPPORTED_MEDIA_TYPE']
  ])('refuses a body of content type %s with %d', async (type, status, code) => {
    expectProblem(await post(await sharedApp(), '{}', { 'content-type': type }), status, code)
  })
})

// Ajv would coerce "1e400" to Infinity and skip minimum/maximum: src/schemas/compilers.ts refuses non-finite numbers.
describe('non-finite numbers in a query string or header', () => {
  it.each([
    ['after=1e400', {}], ['limit=1e400', {}], ['waitMs=1e400', {}], ['after=Infinity', {}], ['', { 'last-event-id': '1e999' }]
  ])('are refused with 400: %s %j', async (query, headers) => {
    fakeProbe('run', { events: 3 })
    const app = await testApp()
    const { id } = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} })).json()
    const url = `/v1/sessions/${id}/events${'last-event-id' in headers ? '/stream' : ''}?${query}`
    const res = await app.inject({ url, headers, payloadAsStream: true })
    res.stream().destroy()
    expect(res.statusCode).toBe(400)
  })
})

/** Writes raw bytes to a listening server and reads until it closes the connection. */
async function raw (port: number, request: string | Buffer): Promise<{ status: number, type: string, body: string }> {
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(request))
    let text = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => { text += chunk })
    socket.setTimeout(3000, () => socket.destroy(new Error(`no answer to ${JSON.stringify(request.slice(0, 80))}`)))
    socket.on('error', reject)
    socket.on('close', () => {
      const [head = '', body = ''] = text.split('\r\n\r\n')
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), type: /^content-type: *(.*)$/im.exec(head)?.[1] ?? '', body })
    })
  })
}

describe('malformed HTTP on a listening server', () => {
  it('answers each with a 4xx problem+json, closes the connection, and keeps serving', async () => {
    const app = buildApp(testConfig(), problemServerOptions)
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as { port: number }
    try {
      const requests: Array<[string, string | Buffer, number]> = [
        ['a garbage request line', 'GARBAGE\r\n\r\n', 400],
        ['headers past 16 KiB', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
        ['a space in a header name', 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n', 400],
        ['Content-Length and Transfer-Encoding both', 'POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}', 400],
        ['two Content-Lengths', 'POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}', 400],
        ['a bad chunk size', 'POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n', 400],
        ['a NUL in the path', 'GET /v1/sessions/\0 HTTP/1.1\r\nHost: x\r\n\r\n', 400],
        ['raw non-UTF-8 bytes in the path', Buffer.concat([Buffer.from('GET /v1/sessions/'), Buffer.from([0xff, 0xfe]), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')]), 400]
      ]
      for (const [what, request, status] of requests) {
        const res = await raw(port, request)
        expect(res.status, what).toBe(status)
        expect(res.type, what).toMatch(/^application\/problem\+json/)
        expect(JSON.parse(res.body), what).toMatchObject({ status, code: expect.stringMatching(/^UDPLAT_/) })
      }
      // A body shorter than its Content-Length, then silence: the client gives up, the server is unharmed.
      const truncated = connect(port, '127.0.0.1', () => truncated.write('POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na'))
      await new Promise((resolve) => setTimeout(resolve, 100))
      truncated.destroy()
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
    } finally {
      await app.close()
    }
  })
})

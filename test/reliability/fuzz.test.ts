import fc from 'fast-check'
import type { LightMyRequestResponse } from 'fastify'
import { describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import { problemServerOptions } from '../../src/errors.js'
import { fakeProbe, testConfig } from '../helpers/app.js'
import { fromSchema, hostileValue, nearSchema, type Schema } from './arbitraries.js'
import { childPids, cmdline } from './proc.js'

// Property-based fuzzing of every route of the OpenAPI document, from its own schemas, with the fake loader:
// whatever arrives, the answer is 2xx, or 4xx problem+json with a code; never a 5xx, a hang or a stray loader.

const REQUESTS = 10_000
const SEED = Number(process.env.UDPLAT_FUZZ_SEED ?? 20_251_125)
/** A request still unanswered after this long is hung, unless it is a long poll (answered at the latest when its session ends). */
const HANG_MS = 10_000
const LONG_POLL_GRACE_MS = 200

type App = ReturnType<typeof buildApp>

interface Operation {
  method: string
  path: string
  parameters: Array<{ in: 'path' | 'query' | 'header', name: string, schema: Schema }>
  body: Schema | undefined
  /** Statuses the document gives for the operation. */
  statuses: string[]
}

interface Request {
  operation: Operation
  method: string
  /** Path parameter: an index into the sessions created so far, or text. */
  id: { known: number } | string
  query: Array<[string, string]>
  headers: Record<string, string>
  body: { json: unknown } | { raw: string } | undefined
}

function operationsOf (document: any): Operation[] {
  return Object.entries(document.paths as Record<string, Record<string, any>>).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      parameters: op.parameters ?? [],
      body: op.requestBody?.content?.['application/json']?.schema,
      statuses: Object.keys(op.responses)
    })))
}

/**
 * A parameter's text as a client might send it: mostly valid, else hostile, including texts that coerce to ±Infinity.
 */
const paramText = (schema: Schema, resolve: (ref: string) => Schema) => fc.oneof(
  { weight: 6, arbitrary: fromSchema(schema, resolve).map(String) },
  { weight: 1, arbitrary: hostileValue.map((value) => typeof value === 'string' ? value : JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.constantFrom('-1', '99999999999999999999999', '1e400', '-Infinity', '', ' 5', '5 ', '0x10', '1_000', 'NaN', '１２', '5,6', '%', '%00') }
)

const sessionIdText = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
  hostileValue.map((value) => typeof value === 'string' ? value : JSON.stringify(value)),
  fc.constantFrom('..', '.', '%2e%2e', 'a'.repeat(65), 'a'.repeat(2000), 'ñ', 'a b', 'a/b', 'a?b', 'a#b')
)

/** `arbitrary`'s value with probability `p`, else undefined. */
const sometimes = <T>(p: number, arbitrary: fc.Arbitrary<T>) =>
  fc.oneof({ weight: Math.round(p * 100), arbitrary }, { weight: Math.round((1 - p) * 100), arbitrary: fc.constant(undefined) })

function requestOf (operation: Operation, resolve: (ref: string) => Schema): fc.Arbitrary<Request> {
  const queryParams = operation.parameters.filter((p) => p.in === 'query')
  const headerParams = operation.parameters.filter((p) => p.in === 'header')
  const hasBody = operation.body !== undefined
  return fc.record({
    operation: fc.constant(operation),
    method: fc.oneof({ weight: 19, arbitrary: fc.constant(operation.method) }, fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD')),
    id: fc.oneof({ weight: 3, arbitrary: fc.nat().map((known) => ({ known })) }, { weight: 5, arbitrary: sessionIdText }),
    query: fc.tuple(
      fc.tuple(...queryParams.map((p) => sometimes(0.6, paramText(p.schema, resolve).map((text): [string, string] => [p.name, text])))),
      sometimes(0.1, fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })))
    ).map(([known, extra]) => [...known, extra].filter((pair): pair is [string, string] => pair !== undefined)),
    headers: fc.record({
      accept: sometimes(0.5, fc.constantFrom('application/json', 'text/event-stream', '*/*', 'text/event-stream, application/json', 'image/png', ';;;')),
      'content-type': sometimes(hasBody ? 0.9 : 0.1, fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8') },
        { weight: 2, arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x', 'garbage') }
      )),
      authorization: sometimes(0.1, fc.constantFrom('Bearer x', 'Basic Zm9vOmJhcg==', 'Bearer', '')),
      // Pages of other sites, and names that are not the service's: 403 and 421 on every route.
      origin: sometimes(0.03, fc.constantFrom('https://evil.example', 'null', 'http://localhost:80')),
      host: sometimes(0.03, fc.constantFrom('rebind.evil.example:9470', 'localhost.', '[::1]:1')),
      'sec-fetch-site': sometimes(0.03, fc.constantFrom('cross-site', 'same-origin', 'none')),
      ...Object.fromEntries(headerParams.map((p) => [p.name, sometimes(0.3, paramText(p.schema, resolve))]))
    }).map((headers) => Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== undefined)) as Record<string, string>),
    body: fc.oneof(
      { weight: hasBody ? 8 : 1, arbitrary: (hasBody ? nearSchema(operation.body!, resolve) : hostileValue).map((json) => ({ json })) },
      { weight: 1, arbitrary: fc.oneof(fc.string({ unit: 'binary', maxLength: 50 }), fc.constant('{"filter":{"ports":[1,')).map((raw) => ({ raw })) },
      { weight: hasBody ? 1 : 8, arbitrary: fc.constant(undefined) }
    )
  })
}

function urlOf (request: Request, known: string[]): string {
  const id = typeof request.id === 'string' ? request.id : known[request.id.known % Math.max(1, known.length)] ?? 'none'
  // Lone surrogates become U+FFFD, as any client's UTF-8 encoding would make them.
  const path = request.operation.path.replace('{id}', encodeURIComponent(Buffer.from(id).toString()))
  const query = new URLSearchParams(request.query).toString()
  return query === '' ? path : `${path}?${query}`
}

const isStream = (request: Request) => request.operation.path.endsWith('/stream') || request.headers.accept?.includes('text/event-stream') === true
const isLongPoll = (request: Request) => request.operation.path.endsWith('/events') && request.query.some(([name, value]) => name === 'waitMs' && value !== '0')

/** Sends one request; a stream's first chunk stands for its body. */
async function send (app: App, request: Request, known: string[]): Promise<{ status: number, type: string, body: string }> {
  const payload = request.body === undefined ? undefined : 'json' in request.body ? JSON.stringify(request.body.json) : request.body.raw
  const res: LightMyRequestResponse = await app.inject({ method: request.method as 'GET', url: urlOf(request, known), headers: request.headers, payload, payloadAsStream: isStream(request) })
  const type = String(res.headers['content-type'] ?? '')
  if (!isStream(request)) return { status: res.statusCode, type, body: res.body }
  const stream = res.stream()
  const first = await new Promise<string>((resolve) => {
    stream.once('data', (chunk: Buffer) => resolve(chunk.toString()))
    stream.once('end', () => resolve(''))
    setTimeout(() => resolve(''), 1000).unref()
  })
  stream.destroy()
  return { status: res.statusCode, type, body: first }
}

/** The checks every answer must pass. */
function check (request: Request, { status, type, body }: { status: number, type: string, body: string }): void {
  const what = `${request.method} ${request.operation.path} -> ${status} ${body.slice(0, 300)}`
  expect(status >= 200 && status < 300 ? 'ok' : status >= 400 && status < 500 ? 'ok' : 'not 2xx or 4xx', what).toBe('ok')
  if (status < 300 && type.startsWith('application/json') && request.method !== 'HEAD') {
    expect(() => JSON.parse(body), `${what}: not JSON`).not.toThrow()
  }
  if (status >= 400) {
    expect(type, what).toMatch(/^application\/problem\+json/)
    if (request.method === 'HEAD') return
    const problem = JSON.parse(body)
    expect(problem, what).toMatchObject({ status, code: expect.stringMatching(/^UDPLAT_[A-Z_]+$/) })
  }
}

/** What `promise` resolves to within `ms`, else undefined. */
async function within<T> (ms: number, promise: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), ms) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

const fakeLoaders = () => childPids().filter((pid) => cmdline(pid).some((arg) => arg.endsWith('fake-probe.mjs')))

describe('fuzzing every route from its schema', () => {
  it(`answers ${REQUESTS} generated requests with 2xx or 4xx problem+json only, and leaves no loader behind`, async () => {
    fakeProbe('run', { events: 5 })
    // As server.ts builds it: answers given before any route are problem+json too.
    const app = buildApp(testConfig({ maxSessions: 4, retentionSeconds: 5 }), problemServerOptions)
    await app.ready()
    const document = app.swagger() as any
    const resolve = (ref: string): Schema => document.components.schemas[ref.replace('#/components/schemas/', '')]
    const operations = operationsOf(document)
    const known: string[] = []
    const statuses = new Map<string, number>()
    const undocumented = new Set<string>()
    const pending: Array<{ request: Request, answer: Promise<Awaited<ReturnType<typeof send>>> }> = []
    let requests = 0
    const startedAt = performance.now()

    const property = fc.asyncProperty(fc.oneof(...operations.map((operation) => requestOf(operation, resolve))), async (request) => {
      requests++
      const answer = send(app, request, known)
      const early = await within(isLongPoll(request) ? LONG_POLL_GRACE_MS : HANG_MS, answer)
      if (early === undefined) {
        expect(isLongPoll(request), `hung: ${request.method} ${urlOf(request, known)}`).toBe(true)
        pending.push({ request, answer })
        return
      }
      check(request, early)
      statuses.set(String(early.status), (statuses.get(String(early.status)) ?? 0) + 1)
      if (request.method === request.operation.method && !request.operation.statuses.includes(String(early.status))) {
        undocumented.add(`${request.method} ${request.operation.path} ${early.status}`)
      }
      if (early.status === 201) known.push(JSON.parse(early.body).id)
    })
    console.log(`fuzz: seed ${SEED} (set UDPLAT_FUZZ_SEED to change it), ${REQUESTS} runs over ${operations.length} operations`)
    await fc.assert(property, { numRuns: REQUESTS, seed: SEED })

    const elapsedS = (performance.now() - startedAt) / 1000
    const active = (await app.inject({ url: '/v1/sessions' })).json().sessions.filter((s: { state: string }) => ['starting', 'running', 'stopping'].includes(s.state))
    expect(fakeLoaders()).toHaveLength(active.length)
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200)
    // Closing stops every session, which answers every long poll still waiting.
    await app.close()
    for (const { request, answer } of pending) check(request, await answer)
    expect(fakeLoaders()).toEqual([])
    console.log(`fuzz: ${requests} requests in ${elapsedS.toFixed(1)} s, ${known.length} sessions created, ${pending.length} long polls answered at close; ` +
      `statuses ${[...statuses].sort().map(([status, n]) => `${status}x${n}`).join(' ')}`)
    expect(requests).toBeGreaterThanOrEqual(REQUESTS)
    // Every answer of an operation's own method is one its OpenAPI document lists.
    expect([...undocumented]).toEqual([])
  }, 60_000)
})

import { availableParallelism } from 'node:os'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { listeningService } from '../reliability/service.js'
import { attachedProgramIds, hubPids, programIdsOf, programNames, RECEIVE_PROGRAMS, send, startReceiver } from './workload.js'

// Sessions choose their marks: rx and the backlog stage with how NET_RX took each datagram, the seed's own pair
// (enqueue and read), for which nothing runs for the host's packets before the socket, and return, for which
// the receive system calls' exit is traced. Ports 25000-25099 are this file's.
const SEED_PAIR_PROGRAMS = ['ul_drop', 'uls_rename', 'uls_switch', 'uls_wakeup', 'ult_enqueue', 'ult_read']
const RETURN_PROGRAMS = ['ule_exit']

let service: Awaited<ReturnType<typeof listeningService>>
let base: string

beforeAll(async () => {
  service = await listeningService()
  base = service.base
  await vi.waitFor(async () => expect((await fetch(`${base}/readyz`)).status).toBe(200), { timeout: 5000, interval: 20 })
})

afterAll(async () => { await service.app.close() })

interface Event {
  latencyNs: number
  slowestStage: string | null
  stages: Record<string, number | null>
  len: number
  softirq: { cpu: number, inKsoftirqd: boolean, waitedBehind: { pid: number, comm: string } | null } | null
}

async function call (method: string, path: string, body?: unknown): Promise<{ status: number, json: any }> {
  const res = await fetch(base + path, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  })
  return { status: res.status, json: res.status === 204 ? null : await res.json() }
}

async function createSession (port: number, marks?: string[]): Promise<{ id: string, marks: string[] }> {
  const res = await call('POST', '/v1/sessions', { filter: { ports: [port] }, thresholdUs: 0, ...(marks === undefined ? {} : { marks }) })
  expect(res.status, JSON.stringify(res.json)).toBe(201)
  return res.json
}

/** Sends `count` datagrams (lengths 64, 65, …: an event's len says which) to a reader that sleeps `delayMs` before each read; the session's events once all are in. */
async function traffic (port: number, count: number, delayMs: number, ids: string[]): Promise<Event[][]> {
  const receiver = await startReceiver({ bind: `127.0.0.1:${port}`, count, delayMs })
  await send(`127.0.0.1:${port}`, count, { len: 64, lenCycle: count })
  await receiver.done
  return await Promise.all(ids.map(async (id) => await vi.waitFor(async () => {
    const { json } = await call('GET', `/v1/sessions/${id}/events?limit=1000`)
    expect(json.events).toHaveLength(count)
    return json.events as Event[]
  }, { timeout: 5000, interval: 50 })))
}

/** The names of the hub's programs that are attached now. */
function attachedHubPrograms (): string[] {
  const attached = attachedProgramIds()
  return programNames(hubPids().flatMap(programIdsOf).filter((id) => attached.has(id)))
}

describe('a session\'s marks', () => {
  it('default to every mark the plan sees: each event has its backlog from rx, its parts add up to its total, and how NET_RX took it', async () => {
    const session = await createSession(25001)
    try {
      expect(session.marks).toEqual(['rx', 'arrive', 'enqueue', 'read', 'return'])
      expect(attachedHubPrograms()).toEqual(RECEIVE_PROGRAMS)
      const [events] = await traffic(25001, 20, 0, [session.id])
      for (const e of events!) {
        const { backlogNs, stackNs, queueNs, copyNs, totalNs } = e.stages
        expect(copyNs).toBeGreaterThanOrEqual(0)
        expect(backlogNs! + stackNs! + queueNs! + copyNs!).toBe(totalNs)
        expect(e.latencyNs).toBe(totalNs)
        expect(e.softirq!.cpu).toBeGreaterThanOrEqual(0)
        expect(e.softirq!.cpu).toBeLessThan(availableParallelism())
        // Loopback empties the backlog inline, as the sender leaves its bottom-half section: no other task held the
        // CPU, so a backlog long enough to name its holder names the sender (udpwork) itself.
        expect(e.softirq!.inKsoftirqd).toBe(false)
        expect([null, 'udpwork']).toContain(e.softirq!.waitedBehind?.comm ?? null)
      }
    } finally {
      await call('DELETE', `/v1/sessions/${session.id}`)
    }
  })

  it('with the seed\'s pair, run nothing for the host\'s packets before the socket nor at the system calls\' exit (the scheduler\'s hooks serve the reader), and measure the queue', async () => {
    const session = await createSession(25002, ['enqueue', 'read'])
    try {
      expect(session.marks).toEqual(['enqueue', 'read'])
      expect(attachedHubPrograms()).toEqual(SEED_PAIR_PROGRAMS)
      const [events] = await traffic(25002, 10, 5, [session.id])
      for (const e of events!) {
        // Without return there is no total: the datagram's journey, as this session sees it, is its queue.
        expect(e.stages).toMatchObject({ backlogNs: null, stackNs: null, copyNs: null, totalNs: null })
        expect(e.latencyNs).toBe(e.stages.queueNs)
        expect(e.slowestStage).toBe('queue')
        expect(e.softirq).toBeNull()
      }
      // A reader that sleeps 5 ms before each read: the tenth datagram waited about 50 ms in the queue.
      expect(events!.at(-1)!.stages.queueNs).toBeGreaterThan(45_000_000)
    } finally {
      await call('DELETE', `/v1/sessions/${session.id}`)
    }
  })

  it('with enqueue and return, trace the system calls\' exit and measure the queue to the reader\'s return as the whole path', async () => {
    const session = await createSession(25005, ['enqueue', 'return'])
    try {
      expect(attachedHubPrograms()).toEqual([...SEED_PAIR_PROGRAMS, ...RETURN_PROGRAMS].sort())
      const [events] = await traffic(25005, 10, 5, [session.id])
      for (const e of events!) {
        expect(e.stages).toMatchObject({ backlogNs: null, stackNs: null, copyNs: null })
        expect(e.stages.totalNs).toBe(e.stages.queueNs)
      }
    } finally {
      await call('DELETE', `/v1/sessions/${session.id}`)
    }
  })

  it('measure each session with its own marks on one program set, attached for the marks the sessions take', async () => {
    const seed = await createSession(25003, ['enqueue', 'read'])
    const all = await createSession(25003)
    try {
      expect(attachedHubPrograms()).toEqual(RECEIVE_PROGRAMS)
      const [seedEvents, allEvents] = await traffic(25003, 10, 1, [seed.id, all.id])
      const byLen = new Map(allEvents!.map((e) => [e.len, e]))
      for (const e of seedEvents!) {
        const other = byLen.get(e.len)!
        expect(e.stages.queueNs).toBe(other.stages.queueNs)
        expect(e.stages.backlogNs).toBeNull()
        expect(other.stages.backlogNs).not.toBeNull()
        expect(e.latencyNs).toBeLessThan(other.latencyNs)
      }
      expect((await call('DELETE', `/v1/sessions/${all.id}`)).status).toBe(204)
      // The hub frees a session's slot as soon as it sees its loader's connection close.
      await vi.waitFor(() => expect(attachedHubPrograms()).toEqual(SEED_PAIR_PROGRAMS), { timeout: 2000, interval: 20 })
    } finally {
      await call('DELETE', `/v1/sessions/${seed.id}`)
      await call('DELETE', `/v1/sessions/${all.id}`)
    }
  })

  it('refuse a mark that does not exist with 400 and nothing left running', async () => {
    const bogus = await call('POST', '/v1/sessions', { filter: { ports: [25004] }, marks: ['wire'] })
    expect(bogus.status).toBe(400)
    expect((await call('GET', '/v1/sessions')).json.sessions.filter((s: { state: string }) => s.state === 'running')).toEqual([])
    await vi.waitFor(() => expect(attachedHubPrograms()).toEqual([]), { timeout: 2000, interval: 20 })
  })
})

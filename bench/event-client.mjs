/**
 * One client reading a session's events as fast as it can: SSE
 * (`GET /v1/sessions/{id}/events`, `Accept: text/event-stream`; `id:` is the
 * seq, `event:` latency | drop | lost | state) when the service offers it,
 * else cursor polling on the same URL. It counts events by type and the seqs
 * it never saw, and keeps only what that needs, so that it is never the
 * bottleneck it measures.
 */
import http from 'node:http'
import { performance } from 'node:perf_hooks'

const POLL_LIMIT = 10_000

/** Counts shared by both transports. */
function tally () {
  return {
    transport: '',
    byType: {},
    events: 0, // latency + drop: the data events
    lastSeq: 0,
    /** Seqs skipped between two data events (announced by `lost`, or evicted under polling). */
    skipped: 0,
    lostEvents: 0,
    firstMs: NaN,
    lastMs: NaN,
    bytes: 0,
    get perSecond () { return this.events > 1 ? (this.events - 1) / ((this.lastMs - this.firstMs) / 1000) : NaN }
  }
}

function count (t, type, seq) {
  t.byType[type] = (t.byType[type] ?? 0) + 1
  if (type === 'latency' || type === 'drop') {
    const now = performance.now()
    if (t.events === 0) t.firstMs = now
    t.lastMs = now
    t.events++
    if (seq > t.lastSeq + 1) t.skipped += seq - t.lastSeq - 1
    if (seq > t.lastSeq) t.lastSeq = seq
  } else if (type === 'lost') {
    t.lostEvents++
  }
}

/**
 * Starts reading the session's events after seq `after`. Resolves once the
 * stream is open with { stats, stop(), ended }; stats fill in as events come.
 */
export async function openEventClient (base, sessionId, { after = 0, transport = 'auto' } = {}) {
  if (transport !== 'poll') {
    const sse = await openSse(base, sessionId, after)
    if (sse) return sse
    if (transport === 'sse') throw new Error('the service does not answer text/event-stream on /events')
  }
  return openPolling(base, sessionId, after)
}

function openSse (base, sessionId, after) {
  const url = new URL(`/v1/sessions/${sessionId}/events`, base)
  return new Promise((resolve, reject) => {
    const headers = { accept: 'text/event-stream' }
    if (after > 0) headers['last-event-id'] = String(after)
    const request = http.get(url, { headers, agent: false }, (response) => {
      if (response.statusCode !== 200 || !String(response.headers['content-type']).startsWith('text/event-stream')) {
        response.resume()
        return resolve(undefined)
      }
      const stats = tally()
      stats.transport = 'SSE'
      let pending = ''
      let endedResolve
      const ended = new Promise((resolve) => { endedResolve = resolve })
      response.setEncoding('utf8')
      response.on('data', (text) => {
        stats.bytes += text.length
        const frames = (pending + text).split('\n\n')
        pending = frames.pop()
        for (const frame of frames) {
          let id = NaN
          let type = 'message'
          let fields = 0
          for (const line of frame.split('\n')) {
            if (line.startsWith('id:')) { id = Number(line.slice(3)); fields++ } else if (line.startsWith('event:')) { type = line.slice(6).trim(); fields++ } else if (line.startsWith('data:')) {
              fields++
              if (type === 'lost') stats.lostData = line.slice(5).trim()
            }
          }
          if (fields > 0) count(stats, type, id) // a frame of comments only is a heartbeat
        }
      })
      response.on('end', () => endedResolve())
      response.on('error', () => endedResolve())
      resolve({ stats, ended, stop () { request.destroy(); endedResolve() } })
    })
    request.on('error', reject)
  })
}

async function openPolling (base, sessionId, after) {
  const stats = tally()
  stats.transport = 'polling (no SSE route yet)'
  const stopped = new AbortController()
  let cursor = after
  const ended = (async () => {
    // Bounded: at most an hour of polling, and it stops when asked or when the session is gone.
    const deadline = Date.now() + 3600_000
    while (!stopped.signal.aborted && Date.now() < deadline) {
      const response = await fetch(`${base}/v1/sessions/${sessionId}/events?after=${cursor}&limit=${POLL_LIMIT}`)
      if (response.status !== 200) break
      const text = await response.text()
      stats.bytes += text.length
      const page = JSON.parse(text)
      for (const event of page.events) count(stats, event.type, event.seq)
      cursor = page.nextAfter
      if (page.events.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    }
  })()
  return { stats, ended, stop () { stopped.abort() } }
}

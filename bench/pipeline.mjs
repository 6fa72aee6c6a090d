#!/usr/bin/env node
/**
 * The event pipeline, live and alone.
 *
 * Live: one session with threshold 0 under the loopback flood, one client
 * reading its events (SSE when the service has it, else polling), alternating
 * with the flood alone. Every slow datagram must be delivered to the client or
 * counted (kernelLost, or skipped with a `lost` event), and every datagram read
 * must be matched or counted (untracked, stale).
 *
 * Alone: a binary stream recorded from the real loader under the flood is fed
 * (1) in process through the service's own parser and EventLog (dist/), as a
 * session buffers records, against a framing-only walk of the same bytes; and (2) to
 * the real service through bench/replay-probe.mjs at full speed, then read
 * from its buffer by one SSE client, against a bare node:http SSE writer of
 * the same events (bench/sse-bare.mjs).
 */
import { createWriteStream, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { finished } from 'node:stream/promises'
import {
  DIST, PROBE, ROOT, atExit, emit, fail, flood, fmt, freeUdpPort, median, options, parseCpus, pollUntil, preflight, progress,
  reportHeader, sleep, spread, standInProbe, start, startService, table, verdict
} from './common.mjs'
import { openEventClient } from './event-client.mjs'

const USAGE = 'usage: node bench/pipeline.mjs [--part live|alone|all] [--rounds N] [--seconds S] [--len BYTES] [--cpus FLOOD,SINK|none] ' +
  '[--records N] [--replay-events N] [--transport auto|sse|poll] [--out FILE]'
const opts = options(USAGE, {
  part: 'all', rounds: 5, seconds: 3, len: 64, cpus: '0,1', records: 2_000_000, 'replay-events': 500_000, transport: 'auto', out: ''
})
if (!['live', 'alone', 'all'].includes(opts.part)) fail(`--part is live, alone or all, got "${opts.part}"`)
const cpus = parseCpus(opts.cpus)
preflight()

const { RecordParser, RecordType } = await import(`${DIST}probe/records.js`)
// Builds since the marks table (src/marks.ts) have no probe/events.js: they buffer records and convert nothing.
const { measuredStages, realtimeClock, toDropEvent, toLatencyEvent } = await import(`${DIST}probe/events.js`).catch(() => ({}))
/** Builds from before the raw-record ring converted each record to an event object as it was buffered. */
const convertsOnAppend = toLatencyEvent !== undefined
const { EventLog } = await import(`${DIST}sessions/event-log.js`)
/** How a session packs a record into its ring's slot (builds that buffer the records themselves). */
const slots = convertsOnAppend ? undefined : await import(`${DIST}sessions/event-slots.js`)

const port = await freeUdpPort()
const sections = [reportHeader('Event pipeline')]

// ---- live ----

async function liveRun (service) {
  const { session } = await service.createSession({ filter: { ports: [port] }, thresholdUs: 0 })
  const client = await openEventClient(service.base, session.id, { transport: opts.transport })
  try {
    const result = await flood({ port, seconds: opts.seconds, len: opts.len, cpus })
    // Settled: two stats records (one a second) agree, and the service holds every event the kernel emitted.
    let previous
    const settled = await pollUntil(() => service.getSession(session.id), (s) => {
      const same = previous && s.counts.slow === previous.counts.slow && s.counts.drops === previous.counts.drops
      previous = s
      return same && s.lastSeq === s.counts.emitted + s.counts.drops - s.counts.dropsLost
    }, 15_000, 1100)
    await pollUntil(() => client.stats.lastSeq, (seq) => seq >= settled.lastSeq, 30_000, 50)
    return { flood: result, counts: settled.counts, lastSeq: settled.lastSeq, client: { ...client.stats, perSecond: client.stats.perSecond } }
  } finally {
    client.stop()
    await service.deleteSession(session.id)
  }
}

if (opts.part !== 'alone') {
  const service = await startService()
  const rounds = []
  try {
    for (let r = 0; r < opts.rounds; r++) {
      const round = {}
      for (const which of r % 2 ? ['live', 'baseline'] : ['baseline', 'live']) {
        round[which] = which === 'baseline' ? await flood({ port, seconds: opts.seconds, len: opts.len, cpus }) : await liveRun(service)
      }
      rounds.push(round)
      const { counts, client } = round.live
      progress(`live round ${r + 1}/${opts.rounds}: ${fmt(client.perSecond)} events/s to the client (${client.transport}), slow ${fmt(counts.slow)}, kernelLost ${fmt(counts.kernelLost)}, skipped ${fmt(client.skipped)}`)
    }
  } finally {
    await service.stop()
  }

  const rows = rounds.map((round, i) => {
    const { counts: c, client, lastSeq, flood: f } = round.live
    const kernelSide = c.slow + c.drops
    const accounted = client.events + client.skipped + c.kernelLost + c.dropsLost
    return {
      cells: [
        i + 1, fmt(round.baseline.receivedPerSecond), fmt(f.receivedPerSecond / round.baseline.receivedPerSecond, 3), fmt(client.perSecond),
        fmt(c.slow), fmt(c.drops), fmt(c.kernelLost), fmt(c.dropsLost), fmt(lastSeq), fmt(client.events), fmt(client.skipped),
        fmt(kernelSide - accounted), fmt(f.received - (c.matched + c.untracked + c.stale))
      ],
      keptUp: c.kernelLost === 0 && c.dropsLost === 0 && client.skipped === 0,
      unaccounted: kernelSide - accounted,
      unread: f.received - (c.matched + c.untracked + c.stale),
      identities: c.slow === c.emitted + c.kernelLost && lastSeq === c.emitted + c.drops - c.dropsLost
    }
  })
  const transport = rounds[0].live.client.transport
  const allAccounted = rows.every((r) => r.unaccounted === 0 && r.unread === 0 && r.identities)
  const perSecond = median(rounds.map((round) => round.live.client.perSecond))
  sections.push('### Live: threshold 0 under the flood, one client', '',
    `Flood as in the overhead benchmark (\`udpwork flood --len ${opts.len}\`, ${opts.seconds} s, CPUs ${cpus ? cpus.join(' and ') : 'not pinned'}), ` +
    `alternating with the flood alone; one session (\`thresholdUs: 0\`, default buffer), one client reading from seq 1 over **${transport}**. ` +
    'Every slow datagram and every drop is an event; "unaccounted" is slow + drops − (events delivered + seqs skipped + kernelLost + dropsLost), ' +
    '"unread" is datagrams the sink read − (matched + untracked + stale). Both must be 0.', '',
    table(['round', 'baseline received/s', 'flood ratio', 'events/s to client', 'slow', 'drops', 'kernelLost', 'dropsLost',
      'lastSeq', 'delivered', 'skipped', 'unaccounted', 'unread'], rows.map((r) => r.cells)),
    '',
    `Median: ${fmt(perSecond)} events/s to the client, against ${fmt(median(rounds.map((round) => round.baseline.receivedPerSecond)))} datagrams/s of flood alone. ` +
    `Kept up (nothing lost in the kernel, nothing skipped) in ${rows.filter((r) => r.keptUp).length} of ${rows.length} rounds; ` +
    `every datagram accounted for in ${allAccounted ? 'every round' : 'NOT every round'}. ` +
    `Target (keeps up with the fastest flood, nothing unaccounted): ${rows.every((r) => r.keptUp) && allAccounted ? 'met' : 'MISSED'}.`, '')
}

// ---- alone ----

const RECORDING_MAX_RECORDS = 200_000

/** Records the real loader's binary stdout (threshold 0) during a flood; returns the records, bye left out. */
async function recordStream () {
  const file = join(tmpdir(), `udplat-bench-${process.pid}-recorded.bin`)
  atExit(() => rmSync(file, { force: true }))
  const loader = start(PROBE, ['--format', 'bin', '--threshold-us', '0', '--port', String(port)], { rawStdout: true })
  const out = createWriteStream(file)
  loader.child.stdout.pipe(out)
  const helloSize = 336
  await pollUntil(() => { try { return statSync(file).size } catch { return 0 } }, (size) => size >= helloSize || !loader.running, 10_000, 10)
  await flood({ port, seconds: 1, len: opts.len, cpus })
  await sleep(200)
  await loader.stop()
  await finished(out)
  const bytes = readFileSync(file)
  const kept = []
  let events = 0
  // The first RECORDING_MAX_RECORDS are plenty to repeat; the rest would only take memory.
  for (let offset = 0; offset + 4 <= bytes.length && kept.length <= RECORDING_MAX_RECORDS;) {
    const type = bytes.readUInt16LE(offset)
    const size = bytes.readUInt16LE(offset + 2)
    if (size === 0 || offset + size > bytes.length) break
    if (type !== RecordType.bye && type !== RecordType.error) kept.push(bytes.subarray(offset, offset + size))
    if (type === RecordType.event || type === RecordType.drop) events++
    offset += size
  }
  if (kept.length === 0 || kept[0].readUInt16LE(0) !== RecordType.hello) throw new Error(`the recording holds no hello: ${loader.stderr.slice(-300)}`)
  const stream = Buffer.concat(kept)
  writeFileSync(file, stream)
  return { file, stream, helloSize: kept[0].length, records: kept.length - 1, events }
}

/** The data records repeated to at least n records, cut into pipe-sized chunks. */
function chunked (data, recordsInData, n, chunkBytes = 64 * 1024) {
  const whole = Buffer.concat(Array.from({ length: Math.ceil(n / recordsInData) }, () => data))
  const chunks = []
  for (let offset = 0; offset < whole.length; offset += chunkBytes) chunks.push(whole.subarray(offset, offset + chunkBytes))
  return { chunks, records: Math.ceil(n / recordsInData) * recordsInData }
}

const IN_PROCESS = {
  /** What any reader of these records must do: walk the headers. */
  framing (chunks) {
    let pending = Buffer.alloc(0)
    let records = 0
    for (const chunk of chunks) {
      const buf = pending.length ? Buffer.concat([pending, chunk]) : chunk
      let offset = 0
      while (buf.length - offset >= 4) {
        const size = buf.readUInt16LE(offset + 2)
        if (buf.length - offset < size) break
        offset += size
        records++
      }
      pending = buf.subarray(offset)
    }
    return records
  },
  parser (chunks) {
    const parser = new RecordParser()
    let records = 0
    for (const chunk of chunks) records += parser.push(chunk).length
    return records
  },
  /**
   * What Session#onRecord does with each record: parse and copy its bytes into the EventLog's ring
   * (builds before the raw-record ring: parse, convert to an event object, append that).
   */
  buffered (chunks, { clock, measured }) {
    const parser = new RecordParser()
    const log = convertsOnAppend ? new EventLog(10_000) : new EventLog(10_000, slots.EVENT_SLOT_BYTES)
    let records = 0
    for (const chunk of chunks) {
      for (const record of parser.push(chunk)) {
        records++
        if (record.type !== 'event' && record.type !== 'drop') continue
        if (!convertsOnAppend) log.append(record.bytes, slots.packRecord)
        else if (record.type === 'event') log.append((seq) => toLatencyEvent(record, seq, clock, measured))
        else log.append((seq) => toDropEvent(record, seq, clock))
      }
    }
    return records
  }
}

async function serviceAloneRun (service, totalEvents) {
  const t0 = performance.now()
  const { session } = await service.createSession({ filter: {}, thresholdUs: 0, bufferEvents: totalEvents })
  // The replay starts as soon as the loader stand-in runs; measure the slope of lastSeq once events flow.
  let first
  const done = await pollUntil(async () => {
    const s = await service.getSession(session.id)
    const now = performance.now()
    if (!first && s.lastSeq > 0) first = { seq: s.lastSeq, ms: now }
    return { seq: s.lastSeq, ms: now }
  }, (x) => x.seq >= totalEvents, 60_000, 10)
  if (done.seq < totalEvents) throw new Error(`the service buffered only ${done.seq} of ${totalEvents} events`)
  const buffered = done.ms > first.ms ? (done.seq - first.seq) / ((done.ms - first.ms) / 1000) : NaN
  const sample = (await service.request('GET', `/v1/sessions/${session.id}/events?after=0&limit=1`)).body.events[0]

  const client = await openEventClient(service.base, session.id, { transport: opts.transport })
  await pollUntil(() => client.stats.lastSeq, (seq) => seq >= totalEvents, 120_000, 20)
  client.stop()
  await service.deleteSession(session.id)
  return { buffered, endToEndMs: done.ms - t0, sse: client.stats.perSecond, transport: client.stats.transport, sample, delivered: client.stats.events }
}

async function bareRun (sample, count) {
  const file = join(tmpdir(), `udplat-bench-${process.pid}-sample.json`)
  atExit(() => rmSync(file, { force: true }))
  writeFileSync(file, JSON.stringify(sample))
  const server = start(process.execPath, [`${ROOT}bench/sse-bare.mjs`, file, String(count)])
  try {
    const portLine = await server.waitLine((line) => /^\d+$/.test(line), 10_000, 'its port')
    return await new Promise((resolve, reject) => {
      let events = 0
      let firstMs = NaN
      let lastMs = NaN
      let tail = ''
      const request = http.get(`http://127.0.0.1:${portLine.line}/`, { agent: false }, (response) => {
        response.setEncoding('utf8')
        response.on('data', (text) => {
          const frames = (tail + text).split('\n\n')
          tail = frames.pop()
          if (frames.length > 0) {
            const now = performance.now()
            if (events === 0) firstMs = now
            lastMs = now
            events += frames.length
          }
        })
        response.on('end', () => resolve({ events, perSecond: (events - 1) / ((lastMs - firstMs) / 1000) }))
      })
      request.on('error', reject)
    })
  } finally {
    await server.stop()
  }
}

if (opts.part !== 'live') {
  progress('recording the loader\'s binary stream under the flood')
  const recording = await recordStream()
  const data = recording.stream.subarray(recording.helloSize)
  const hello = new RecordParser().push(recording.stream.subarray(0, recording.helloSize))[0]
  // As Session#onHello prepared them for builds that converted on append (measuredStages is newer than the first builds: absent, it is not passed).
  const converter = convertsOnAppend ? { clock: realtimeClock(hello.realtimeOffsetNs), measured: measuredStages?.(hello.marks) } : {}
  const { chunks, records } = chunked(data, recording.records, opts.records)
  progress(`recorded ${fmt(recording.records)} records (${fmt(recording.events)} events, ${fmt(recording.stream.length)} bytes); in-process runs over ${fmt(records)} records`)

  const inProcess = { framing: [], parser: [], buffered: [] }
  for (let r = 0; r < opts.rounds; r++) {
    const order = Object.keys(IN_PROCESS)
    for (let i = 0; i < order.length; i++) {
      const name = order[(i + r) % order.length]
      const t0 = performance.now()
      const n = IN_PROCESS[name](chunks, converter)
      const ms = performance.now() - t0
      if (n !== records) throw new Error(`${name} saw ${n} records, expected ${records}`)
      inProcess[name].push(records / (ms / 1000))
    }
  }

  const repeat = Math.max(1, Math.ceil(opts['replay-events'] / recording.events))
  const totalEvents = Math.min(1_000_000, repeat * recording.events)
  const service = await startService({
    env: {
      UDPLAT_PROBE: standInProbe(`${ROOT}bench/replay-probe.mjs`, {
        UDPLAT_BENCH_STREAM: recording.file,
        UDPLAT_BENCH_REPEAT: String(Math.ceil(totalEvents / recording.events))
      }),
      UDPLAT_MAX_BUFFERED_EVENTS: String(4_000_000)
    },
    ready: false
  })
  const alone = []
  const bare = []
  try {
    for (let r = 0; r < opts.rounds; r++) {
      const run = await serviceAloneRun(service, totalEvents)
      alone.push(run)
      bare.push(await bareRun(run.sample, totalEvents))
      progress(`alone round ${r + 1}/${opts.rounds}: buffered ${fmt(run.buffered)} records/s, ${fmt(run.sse)} events/s over ${run.transport}, bare writer ${fmt(bare.at(-1).perSecond)}`)
    }
  } finally {
    await service.stop()
  }

  const framing = median(inProcess.framing)
  const bareRate = median(bare.map((c) => c.perSecond))
  const bufferedRate = median(alone.map((a) => a.buffered))
  const sseRate = median(alone.map((a) => a.sse))
  const transport = alone[0].transport
  const row = (label, rates, base, target) => [label, fmt(median(rates)), spread(rates, 0), base ? fmt(median(rates) / base, 3) : '–', target ?? '']
  sections.push('### Alone: the service fed a recorded stream at full speed', '',
    `Recorded from the real loader (threshold 0) under the flood: ${fmt(recording.records)} records, ${fmt(recording.events)} of them events or drops. ` +
    `In process: the records repeated to ${fmt(records)}, cut into 64 KiB chunks as a pipe delivers them, through dist/probe/records.js ` +
    '(RecordParser) and, for "buffered", dist/sessions/event-log.js as Session#onRecord uses it (EventLog of 10 000: each record\'s bytes packed into its ring (dist/sessions/event-slots.js); ' +
    'builds before the ring converted each record with dist/probe/events.js and kept the event object). ' +
    `The service: \`UDPLAT_PROBE=bench/replay-probe.mjs\`, the stream replayed to ${fmt(totalEvents)} events into one session ` +
    `(bufferEvents ${fmt(totalEvents)}), rate from the slope of lastSeq; then one client reads them all from the buffer over **${transport}**; ` +
    `the baseline is bench/sse-bare.mjs, a bare node:http server serializing the same event per frame and writing 64 KiB batches. ${opts.rounds} alternating rounds; medians.`, '',
    table(['stage', 'per second (median)', 'min–max', 'ratio to its baseline', 'target'], [
      row('framing walk only, in process (baseline)', inProcess.framing, framing),
      row('RecordParser, in process', inProcess.parser, framing),
      row('parse + buffer (EventLog), in process', inProcess.buffered, framing, `≥ 1M records/s: ${verdict(median(inProcess.buffered), 1e6)}`),
      row('service: records parsed and buffered (replay)', alone.map((a) => a.buffered), framing, `≥ 1M records/s: ${verdict(bufferedRate, 1e6)}`),
      row('bare node:http SSE writer, same events (baseline)', bare.map((c) => c.perSecond), bareRate),
      row(`service → one client (${transport}), from the buffer`, alone.map((a) => a.sse), bareRate, `≥ 300k events/s: ${verdict(sseRate, 300_000)}`)
    ]), '')
}

emit(sections.join('\n'), opts.out)

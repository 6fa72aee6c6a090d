#!/usr/bin/env node
// Event-stream clients that read as fast as the socket delivers, for fairness measurements (bench/fairness.mjs,
// test/sessions/stream-fairness.kernel.test.ts): node sse-readers.mjs URL CLIENTS LAST_SEQ WINDOW_MS.
// Opens CLIENTS streams at once, all in this process, so that whatever the host does to it, it does to every
// stream alike; a stream is done once it has `id: LAST_SEQ`. When every stream is done, or WINDOW_MS after they
// were asked for, it prints one JSON line: { askedMs, endMs, firstMs: [per stream], doneMs: [per stream],
// checkpointMs, bytes: [per stream] }: epoch ms (null: never), and what each stream had read at the checkpoint,
// the moment the first stream was done, or the end.
import http from 'node:http'
import { performance } from 'node:perf_hooks'

const [url, clients, lastSeq, windowMs] = [process.argv[2], ...process.argv.slice(3, 6).map(Number)]
const now = () => performance.timeOrigin + performance.now()
const needle = Buffer.from(`id: ${lastSeq}\n`)
const agent = new http.Agent({ maxSockets: Infinity })
const read = new Array(clients).fill(0)
const firstMs = new Array(clients).fill(null)
const doneMs = new Array(clients).fill(null)
let checkpoint
const askedMs = now()
let left = clients

function finish () {
  clearTimeout(deadline)
  const endMs = now()
  checkpoint ??= { checkpointMs: endMs, bytes: [...read] }
  process.stdout.write(`${JSON.stringify({ askedMs, endMs, firstMs, doneMs, ...checkpoint })}\n`, () => process.exit(0))
}

for (let i = 0; i < clients; i++) {
  http.get(url, { agent, headers: { accept: 'text/event-stream' } }, (res) => {
    let tail = Buffer.alloc(0)
    res.on('data', (chunk) => {
      firstMs[i] ??= now()
      read[i] += chunk.length
      // The needle may straddle two chunks: look in the end of the last one joined to the start of this one.
      const found = chunk.includes(needle) || Buffer.concat([tail, chunk.subarray(0, needle.length - 1)]).includes(needle)
      tail = chunk.subarray(-(needle.length - 1))
      if (!found) return
      doneMs[i] = now()
      checkpoint ??= { checkpointMs: doneMs[i], bytes: [...read] }
      res.destroy()
      if (--left === 0) finish()
    })
  }).on('error', (err) => {
    process.stderr.write(`sse-readers: stream ${i}: ${err.message}\n`)
    process.exit(1)
  })
}
const deadline = setTimeout(finish, windowMs)

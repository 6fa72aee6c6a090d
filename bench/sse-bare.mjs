#!/usr/bin/env node
/**
 * The same-run baseline for SSE throughput: a bare node:http server that
 * serializes N copies of one real event (seq renumbered) into SSE frames,
 * batches them into 64 KiB writes and awaits drain. No framework, no buffer
 * to read from: what plain Node does on this machine with the same
 * serialization work, for comparison with the service's stream.
 *
 *   node bench/sse-bare.mjs EVENT_JSON_FILE COUNT   → prints its port, serves GET /
 */
import { readFileSync } from 'node:fs'
import http from 'node:http'

const [file, countArg] = process.argv.slice(2)
const sample = JSON.parse(readFileSync(file, 'utf8'))
const count = Number(countArg)
const BATCH_BYTES = 64 * 1024

const server = http.createServer(async (request, response) => {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  let batch = ''
  for (let seq = 1; seq <= count; seq++) {
    sample.seq = seq
    batch += `id: ${seq}\nevent: ${sample.type}\ndata: ${JSON.stringify(sample)}\n\n`
    if (batch.length >= BATCH_BYTES || seq === count) {
      if (!response.write(batch)) await new Promise((resolve) => response.once('drain', resolve))
      batch = ''
    }
  }
  response.end()
})
server.listen(0, '127.0.0.1', () => console.log(server.address().port))
// Serve for at most ten minutes.
setTimeout(() => process.exit(0), 600_000).unref()

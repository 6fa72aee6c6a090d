#!/usr/bin/env node
// Asks a URL every INTERVAL_MS over one kept-alive connection, for DURATION_MS or until its stdin closes, and
// prints one JSON line: { probes: [[startMs, latencyMs, waitedMs]...] }: each request's start (epoch ms), the time to
// its response's end, and how long the server's main thread (SERVER_PID) waited meanwhile for a CPU it was ready
// to run on (its schedstat run delay), which is the host's doing, not the server's; a wait that began before the
// ask counts whole, so that less it can be low by that much. Meant to run at real-time priority (chrt), so that
// it never waits for a CPU itself.
// node prober.mjs URL INTERVAL_MS DURATION_MS SERVER_PID
import { readFileSync } from 'node:fs'
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'

const [url, intervalMs, durationMs, serverPid] = [process.argv[2], ...process.argv.slice(3, 6).map(Number)]
/** The server's main thread's total wait on a run queue so far, in ms (kernel docs: scheduler/sched-stats). */
const runDelayMs = () => Number(readFileSync(`/proc/${serverPid}/schedstat`, 'utf8').split(' ')[1]) / 1e6
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
const probes = []
const stopped = new AbortController()
process.stdin.on('end', () => stopped.abort()).resume()

function ask () {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      res.resume()
      res.on('end', () => res.statusCode === 200 ? resolve() : reject(new Error(`${url} answered ${res.statusCode}`)))
    }).on('error', reject)
  })
}

const startMs = performance.now()
// Each ask starts on its own tick of the interval, or at once after one that took longer.
for (let tick = 0; !stopped.signal.aborted && performance.now() - startMs < durationMs; tick++) {
  const waited0 = runDelayMs()
  const t0 = performance.now()
  await ask()
  const latencyMs = performance.now() - t0
  probes.push([performance.timeOrigin + t0, latencyMs, runDelayMs() - waited0])
  await sleep(Math.max(0, startMs + (tick + 1) * intervalMs - performance.now()))
}
process.stdout.write(`${JSON.stringify({ probes })}\n`, () => process.exit(0))

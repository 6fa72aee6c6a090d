// Event streams against everything else, measured from outside the service (bench/fairness.mjs and
// test/sessions/stream-fairness.kernel.test.ts): event-stream readers start together on one CPU while a prober,
// at real-time priority on the same CPU, asks another URL of the service at a steady rate.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const READERS = fileURLToPath(new URL('./sse-readers.mjs', import.meta.url))
const PROBER = fileURLToPath(new URL('./prober.mjs', import.meta.url))
/** SCHED_FIFO priority of the prober: above every normal task, so it waits for no CPU. */
const PROBER_PRIORITY = 50
/** How long the children may take to start and to report, beyond the window. */
const SLACK_MS = 30_000

/** A child's one JSON line, once it has exited; rejects if it fails or takes longer than `timeoutMs`. */
function report (child, timeoutMs, what) {
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (text) => { stdout += text })
  child.stderr.on('data', (text) => { stderr = (stderr + text).slice(-2000) })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${what} did not report within ${timeoutMs} ms`))
    }, timeoutMs)
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve(JSON.parse(stdout))
      else reject(new Error(`${what} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`))
    })
  })
}

/**
 * `clients` readers (one process, on CPU `cpu`) ask for `streamUrl` together and read as fast as the socket
 * delivers, each until it has seq `lastSeq`, for at most `windowMs`; a prober on the same CPU asks `probeUrl`
 * every `probeEveryMs` from before they connect until they are done. `servicePid`: the service's main thread.
 *
 * Resolves with `probesMs`, the latency of every probe that started from the moment the readers asked until
 * they were done, and `serviceMs`, the same less the time the service's main thread waited meanwhile for a
 * CPU it was ready to run on (another task had it: the host's doing, and, on a shared host, other users');
 * `bytes`, what each stream had when the first stream was done (or at the window's end), and
 * `checkpointMs`, when that was; `firstMs` and `doneMs`, each stream's first byte and last event, ms after
 * the readers asked (null: none); `elapsedMs`, from asking to done.
 * @returns {Promise<{ probesMs: number[], serviceMs: number[], bytes: number[], checkpointMs: number,
 *   firstMs: Array<number | null>, doneMs: Array<number | null>, elapsedMs: number }>}
 */
export async function measureStreams ({ servicePid, streamUrl, probeUrl, clients, lastSeq, windowMs, probeEveryMs, cpu }) {
  const onCpu = ['taskset', '-c', String(cpu), process.execPath]
  const prober = spawn('chrt', ['-f', String(PROBER_PRIORITY), ...onCpu, PROBER, probeUrl, String(probeEveryMs), String(windowMs + SLACK_MS), String(servicePid)])
  const probed = report(prober, windowMs + 2 * SLACK_MS, 'the prober')
  let readers
  try {
    // The prober's connection is open and answered before the streams start.
    await new Promise((resolve) => setTimeout(resolve, 4 * probeEveryMs))
    readers = spawn(onCpu[0], [...onCpu.slice(1), READERS, streamUrl, String(clients), String(lastSeq), String(windowMs)])
    const read = await report(readers, windowMs + SLACK_MS, 'the readers')
    prober.stdin.end()
    const { probes } = await probed
    return summary(read, probes)
  } finally {
    for (const child of [prober, readers]) if (child?.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
}

function summary ({ askedMs, endMs, firstMs, doneMs, checkpointMs, bytes }, probes) {
  const since = (ms) => ms - askedMs
  const inWindow = probes.filter(([startMs]) => startMs >= askedMs && startMs <= endMs)
  return {
    probesMs: inWindow.map(([, latencyMs]) => latencyMs),
    serviceMs: inWindow.map(([, latencyMs, waitedMs]) => Math.max(0, latencyMs - waitedMs)),
    bytes,
    checkpointMs: since(checkpointMs),
    firstMs: firstMs.map((ms) => ms === null ? null : since(ms)),
    doneMs: doneMs.map((ms) => ms === null ? null : since(ms)),
    elapsedMs: since(endMs)
  }
}

import { performance } from 'node:perf_hooks'

export interface Watchdog {
  /** Something was heard: the silence starts again. */
  heard (): void
  stop (): void
}

/**
 * Calls `onSilence` once, after nothing was heard for `limitMs`, checking every `checkMs`.
 * A silence is confirmed after the event loop's next I/O poll, so data that waited in a pipe
 * while the loop was busy counts as heard rather than as silence.
 */
export function watchdog (limitMs: number, checkMs: number, onSilence: (silentMs: number) => void): Watchdog {
  let lastHeard = performance.now()
  let stopped = false
  const silentMs = () => performance.now() - lastHeard
  const timer = setInterval(() => {
    if (silentMs() < limitMs) return
    setImmediate(() => {
      if (stopped || silentMs() < limitMs) return
      stop()
      onSilence(silentMs())
    })
  }, checkMs)
  timer.unref()

  function stop (): void {
    stopped = true
    clearInterval(timer)
  }

  return { heard: () => { lastHeard = performance.now() }, stop }
}

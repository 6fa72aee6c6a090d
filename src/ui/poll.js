/** Waits `ms`, or less if `signal` aborts. */
export const pause = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms)
  signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
})

/** Runs `task` now and then every `ms` after it finished, until `signal` aborts or the task returns false. */
export async function every (ms, signal, task) {
  while (!signal.aborted && await task() !== false) await pause(ms, signal)
}

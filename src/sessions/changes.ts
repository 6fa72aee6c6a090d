/** Wakes whoever waits for a session to change: new events, or a new state. */
export class Changes {
  readonly #waiters = new Set<() => void>()

  /** How many waits are pending: each is one long-poll or one idle event stream. */
  get waiting (): number { return this.#waiters.size }

  notify (): void {
    if (this.#waiters.size === 0) return
    const waiters = [...this.#waiters]
    this.#waiters.clear()
    for (const wake of waiters) wake()
  }

  /** Resolves true at the next change; false after `timeoutMs`, or at once when `signal` aborts. */
  async wait (timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted === true) return false
    return await new Promise((resolve) => {
      const finish = (changed: boolean) => {
        clearTimeout(timer)
        this.#waiters.delete(wake)
        signal?.removeEventListener('abort', onAbort)
        resolve(changed)
      }
      const wake = () => finish(true)
      const onAbort = () => finish(false)
      const timer = setTimeout(finish, timeoutMs, false)
      this.#waiters.add(wake)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}

import { send, startReceiver } from '../kernel/workload.js'

/** Traffic worth looking at, for the page and Prometheus: slow datagrams and drops, on two local ports. */
export interface Traffic {
  /** The reader's port, then the port whose socket never reads. */
  ports: [number, number]
  /**
   * Sends `count` datagrams to a reader that sleeps before each read: the first of a burst finds the reader waiting
   * and is read at once, each after it waits for those before it.
   */
  slow: (count: number, intervalUs?: number) => Promise<void>
  /** Sends `count` datagrams to a socket that never reads and has a 4 KiB buffer: past a few, each is a SOCKET_RCVBUFF drop. */
  dropped: (count: number) => Promise<void>
  /** Ends both receivers. */
  stop: () => Promise<void>
}

/** A reader expecting `reads` datagrams, sleeping `delayMs` before each, and a socket that reads none. */
export async function startTraffic (reads: number, delayMs: number, timeoutMs = 60_000): Promise<Traffic> {
  const reader = await startReceiver({ bind: '127.0.0.1:0', count: reads, delayMs, timeoutMs })
  const blocked = await startReceiver({ bind: '127.0.0.1:0', count: 1, rcvbufBytes: 4096, noRead: true, timeoutMs })
  return {
    ports: [reader.port, blocked.port],
    slow: async (count, intervalUs = 0) => { await send(`127.0.0.1:${reader.port}`, count, { len: 100, intervalUs }) },
    dropped: async (count) => { await send(`127.0.0.1:${blocked.port}`, count, { len: 200 }) },
    stop: async () => {
      for (const { child } of [reader, blocked]) child.kill()
      await Promise.allSettled([reader.done, blocked.done])
    }
  }
}

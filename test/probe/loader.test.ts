import { pino } from 'pino'
import { describe, expect, it, vi } from 'vitest'
import { startLoader } from '../../src/probe/loader.js'
import { FAKE_PROBE, FAKE_PROBE_ENV, fakeProbe } from '../helpers/app.js'

/** Starts the fake loader in `mode`, as a session would; keeps the type of every record it delivers and every line it logs. */
async function startFake (mode: Parameters<typeof fakeProbe>[0]) {
  fakeProbe(mode, { events: 2 })
  const logged: Array<{ level: number, msg: string, error?: string }> = []
  const log = pino({ level: 'debug' }, { write: (line: string) => { logged.push(JSON.parse(line)) } })
  const received: string[] = []
  const onExit = vi.fn<(failure: string | null) => void>()
  const loader = await startLoader(
    { probePath: FAKE_PROBE, env: FAKE_PROBE_ENV, args: [], log, startTimeoutMs: 5000, stopGraceMs: 2000, statsIntervalMs: 1000 },
    { onHello: () => {}, onRecord: (record) => received.push(record.type), onExit }
  )
  return { loader, received, logged, onExit }
}

const CUT_SHORT = { level: 40, msg: 'loader output ended inside a record' }

describe('a loader whose output ends inside a record', () => {
  it('fails, the cut record its reason, once the records before it are delivered', async () => {
    const { received, logged, onExit } = await startFake('cut-record')
    await vi.waitFor(() => expect(onExit).toHaveBeenCalled(), { timeout: 10_000 })
    expect(onExit).toHaveBeenCalledExactlyOnceWith('the loader sent a malformed record: stream ended inside a record (132 bytes left)')
    expect(received).toEqual(['event', 'event', 'stats', ...Array(14).fill('hist'), 'drop_count'])
    expect(logged).toContainEqual(expect.objectContaining({ ...CUT_SHORT, error: 'stream ended inside a record (132 bytes left)' }))
  }, 20_000)

  it('asked to stop, still stops cleanly: its exit is no failure, and the cut is logged', async () => {
    const { loader, logged, onExit } = await startFake('cut-record-at-term')
    await loader.stop()
    expect(onExit).toHaveBeenCalledExactlyOnceWith(null)
    expect(logged).toContainEqual(expect.objectContaining({ ...CUT_SHORT, error: 'stream ended inside a record (56 bytes left)' }))
  }, 20_000)
})

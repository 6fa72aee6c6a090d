import { describe, expect, it } from 'vitest'
import { Changes } from '../../src/sessions/changes.js'

describe('Changes', () => {
  it('wakes every waiter at the next change, once', async () => {
    const changes = new Changes()
    const waits = [changes.wait(10_000), changes.wait(10_000)]
    expect(changes.waiting).toBe(2)
    changes.notify()
    expect(await Promise.all(waits)).toEqual([true, true])
    expect(changes.waiting).toBe(0)
  })

  it('resolves false after the timeout and forgets the waiter', async () => {
    const changes = new Changes()
    const started = Date.now()
    expect(await changes.wait(50)).toBe(false)
    expect(Date.now() - started).toBeGreaterThanOrEqual(45)
    expect(changes.waiting).toBe(0)
  })

  it('resolves false when aborted, at once if already aborted', async () => {
    const changes = new Changes()
    const aborted = new AbortController()
    const wait = changes.wait(10_000, aborted.signal)
    aborted.abort()
    expect(await wait).toBe(false)
    expect(await changes.wait(10_000, aborted.signal)).toBe(false)
    expect(changes.waiting).toBe(0)
  })
})

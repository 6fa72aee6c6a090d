import { setImmediate as nextCheckPhase } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { Turns, type TurnTaker } from '../../src/sessions/turns.js'

/** A taker that writes `chunks` chunks, one per turn, each taking `busyMs` of CPU; the log says who wrote when. */
function taker (name: string, log: string[], chunks: number, busyMs = 0): TurnTaker & { left: number } {
  return {
    left: chunks,
    takeTurn () {
      for (const start = performance.now(); performance.now() - start < busyMs;);
      log.push(name)
      return --this.left > 0
    }
  }
}

describe('turns', () => {
  it('gives one chunk per turn, round-robin, in the order turns were asked for, none before the next check phase', async () => {
    const turns = new Turns(1000)
    const log: string[] = []
    for (const [name, chunks] of [['a', 3], ['b', 1], ['c', 2]] as const) turns.want(taker(name, log, chunks))
    expect(log).toEqual([])
    await nextCheckPhase()
    expect(log).toEqual(['a', 'b', 'c', 'a', 'c', 'a'])
  })

  it('keeps one place for a taker that asks again, and none for one that gave its turn up', async () => {
    const turns = new Turns(1000)
    const log: string[] = []
    const [a, b, c] = ['a', 'b', 'c'].map((name) => taker(name, log, 1))
    turns.want(a!)
    turns.want(b!)
    turns.want(a!)
    turns.want(c!)
    turns.cancel(b!)
    await nextCheckPhase()
    expect(log).toEqual(['a', 'c'])
  })

  it('stops at the end of its slice and lets timers and I/O run before the next turns', async () => {
    const turns = new Turns(5)
    const log: string[] = []
    // Each turn takes longer than the slice: a run ends after one, whatever else the host does.
    for (const name of ['a', 'b', 'c']) turns.want(taker(name, log, 2, 6))
    setTimeout(() => log.push('timer'), 0)
    await new Promise((resolve) => setTimeout(resolve, 200))
    // Due after 1 ms: at the first timers phase after the first run at the latest, before the second taker's turn.
    expect(log.indexOf('timer')).toBeLessThan(log.indexOf('b'))
    expect(log.filter((name) => name !== 'timer')).toEqual(['a', 'b', 'c', 'a', 'b', 'c'])
  })
})

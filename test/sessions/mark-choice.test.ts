import { describe, expect, it } from 'vitest'
import { ValidationFailed } from '../../src/errors.js'
import { DIRECTIONS, KIND_STAGES, MARK_NAMES, MARKS, StageMeter, type Direction, type EventKind, type MarkName } from '../../src/marks.js'
import { checkMarks } from '../../src/sessions/mark-choice.js'

const refusal = (marks: MarkName[], direction: Direction): string | undefined => {
  try {
    checkMarks(marks, direction)
    return undefined
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationFailed)
    return (err as Error).message
  }
}

describe('checkMarks', () => {
  it.each([
    [['rx'], 'receive', 'body/marks: rx measures no stage of a datagram received (latency events); a stage needs a mark at each end: ' +
      'backlog lacks one of arrive, enqueue, read, return; stack lacks arrive and one of enqueue, read, return; queue lacks enqueue and one of read, return; copy lacks read and return; total lacks return'],
    [['enqueue'], 'receive', 'body/marks: enqueue measures no stage of a datagram received (latency events); a stage needs a mark at each end: ' +
      'backlog lacks rx; stack lacks arrive; queue lacks one of read, return; copy lacks read and return; total lacks return'],
    [['return'], 'receive', 'body/marks: return measures no stage of a datagram received (latency events); a stage needs a mark at each end: ' +
      'backlog lacks rx; stack lacks arrive; queue lacks enqueue; copy lacks read; total lacks a mark before return'],
    [['send'], 'both', 'body/marks: send measures no stage of a datagram sent (send events); a stage needs a mark at each end: ' +
      'sendStack lacks one of queued, xmitStart, xmitDone, sent; qdisc lacks queued and one of xmitStart, xmitDone, sent; driver lacks xmitStart and one of xmitDone, sent; ' +
      'sendTotal lacks one of xmitDone, sent; call lacks sent'],
    [['enqueue', 'return', 'send'], 'both', 'body/marks: send measures no stage of a datagram sent (send events)'],
    [['xmitDone'], 'send', 'body/marks: xmitDone measures no stage of a datagram sent (send events); a stage needs a mark at each end: ' +
      'sendStack lacks send; qdisc lacks queued; driver lacks xmitStart; sendTotal lacks a mark before xmitDone; call lacks sent']
  ] as Array<[MarkName[], Direction, string]>)('refuses %j for direction %s, naming what each stage lacks', (marks, direction, message) => {
    expect(refusal(marks, direction)).toContain(message)
  })

  it.each([
    [['enqueue', 'return'], 'receive'], [['enqueue', 'read'], 'receive'], [['read', 'return'], 'receive'], [['rx', 'return'], 'receive'],
    [['send', 'sent'], 'send'], [['queued', 'xmitStart'], 'send'], [['enqueue', 'return'], 'both'], [['send', 'sent', 'rx', 'arrive'], 'both']
  ] as Array<[MarkName[], Direction]>)('takes %j for direction %s, and the default of every mark the plan sees', (marks, direction) => {
    expect(refusal(marks, direction)).toBeUndefined()
    expect(refusal(undefined as unknown as MarkName[], direction)).toBeUndefined()
  })

  // The ground truth of a choice: a datagram of each kind the session would get, carrying every mark taken on its sides.
  const KINDS: Record<Direction, EventKind[]> = { receive: ['receive'], send: ['send'], both: ['receive', 'send', 'path'] }
  const SIDES: Record<EventKind, string[]> = { receive: ['receive'], send: ['send'], path: ['send', 'receive'] }
  const blankEvents = (marks: MarkName[], direction: Direction) => KINDS[direction].some((kind) => {
    const taken = marks.filter((name) => SIDES[kind]!.includes(MARKS[MARK_NAMES.indexOf(name)]!.side))
    if (!SIDES[kind]!.every((side) => taken.some((name) => MARKS[MARK_NAMES.indexOf(name)]!.side === side))) return false
    const ns: Array<number | null> = []
    new StageMeter(marks).measure(MARK_NAMES.map((name, i) => taken.includes(name) ? 1000 * (i + 1) : 0), ns, kind)
    return KIND_STAGES[kind].stages.every((i) => ns[i] === null)
  })

  it('refuses exactly the choices whose datagrams, with every mark taken, would be events with no stage', () => {
    let refused = 0
    for (const direction of DIRECTIONS) {
      for (let bits = 1; bits < 1 << MARK_NAMES.length; bits++) {
        const marks = MARK_NAMES.filter((_, i) => (bits & (1 << i)) !== 0)
        expect(refusal(marks, direction) !== undefined, `${direction} ${marks.join(',')}`).toBe(blankEvents(marks, direction))
        if (refusal(marks, direction) !== undefined) refused++
      }
    }
    console.log(`mark choices refused: ${refused} of ${3 * ((1 << MARK_NAMES.length) - 1)}`)
  })
})

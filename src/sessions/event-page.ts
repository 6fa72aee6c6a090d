import { ascii, ByteWriter } from './byte-writer.js'
import type { EventWindow } from './event-log.js'
import type { Session } from './session.js'

const PAGE = { start: ascii('{"events":['), comma: ascii(','), nextAfter: ascii('],"nextAfter":'), evicted: ascii(',"evicted":'), end: ascii('}') } as const

/** An EventPage as JSON, written from the buffered records of the window (read just now, in the same tick). */
export function eventPage (session: Session, window: EventWindow): Buffer {
  const out = new ByteWriter(4096)
  out.bytes(PAGE.start)
  for (let seq = window.first; seq <= window.last; seq++) {
    if (seq > window.first) out.bytes(PAGE.comma)
    session.writeEvent(out, seq)
  }
  out.bytes(PAGE.nextAfter)
  out.integer(window.nextAfter)
  out.bytes(PAGE.evicted)
  out.integer(window.evicted)
  out.bytes(PAGE.end)
  return out.take()
}

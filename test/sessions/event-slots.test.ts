import { describe, expect, it } from 'vitest'
import { DROP_FIELDS, EVENT_FIELDS, RECORD_SIZES, RecordType, TASK_COMM_LEN, DROP_REASON_LEN } from '../../src/probe/records.js'
import { DROP_SLOT_FIELDS, EVENT_SLOT_BYTES, EVENT_SLOT_FIELDS, packRecord } from '../../src/sessions/event-slots.js'

/** A record of `type` whose every byte differs from its neighbours'. */
function record (type: number): Buffer {
  const bytes = Buffer.from(Array.from({ length: RECORD_SIZES[type as keyof typeof RECORD_SIZES] }, (_, i) => (i * 7 + 3) % 256))
  bytes.writeUInt16LE(type, 0)
  return bytes
}

/** Every field offset of a table, flattened (named by their path), with the bytes each spans. */
function spans (fields: object, sizes: Record<string, number>, path = ''): Array<[string, number, number]> {
  return Object.entries(fields).flatMap(([name, value]: [string, unknown]) =>
    typeof value === 'number'
      ? [[path + name, value, sizes[name] ?? 8] as [string, number, number]]
      : spans(value as object, sizes, `${path}${name}.`))
}

const SIZES = { kind: 4, pid: 4, tid: 4, len: 10, saddr: 16, daddr: 16, comm: TASK_COMM_LEN, reasonName: DROP_REASON_LEN, behindComm: TASK_COMM_LEN, cpu: 4, flags: 4, behindPid: 4, verdict: 4, ns: 24 }

describe('packRecord', () => {
  it.each([
    ['rec_event', RecordType.event, EVENT_FIELDS, EVENT_SLOT_FIELDS],
    ['rec_drop', RecordType.drop, DROP_FIELDS, DROP_SLOT_FIELDS]
  ])('keeps every field of a %s, and its type first, within one slot', (_, type, fields, slotFields) => {
    const rec = record(type)
    const slots = Buffer.alloc(3 * EVENT_SLOT_BYTES, 0xee)
    packRecord(rec, slots, EVENT_SLOT_BYTES)
    expect(slots.readUInt16LE(EVENT_SLOT_BYTES)).toBe(type)
    const inSlot = new Map(spans(slotFields, SIZES).map(([name, at]) => [name, EVENT_SLOT_BYTES + at]))
    for (const [name, at, size] of spans(fields, SIZES)) {
      const slotAt = inSlot.get(name) ?? -1
      expect(slots.subarray(slotAt, slotAt + size), name).toEqual(rec.subarray(at, at + size))
    }
    // The neighbouring slots are untouched.
    expect(slots.subarray(0, EVENT_SLOT_BYTES).every((byte) => byte === 0xee)).toBe(true)
    expect(slots.subarray(2 * EVENT_SLOT_BYTES).every((byte) => byte === 0xee)).toBe(true)
  })

  it('needs 262 bytes per event, against 264 for the record as sent', () => {
    expect(EVENT_SLOT_BYTES).toBe(262)
  })
})

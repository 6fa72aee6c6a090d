import { EVENT_KINDS, type EventTypeName } from '../marks.js'
import { DROP_FIELDS, EVENT_FIELDS, RECORD_SIZES, RecordType } from '../probe/records.js'

/** A slot starts with the record's type (u16), then keeps one byte range of the record. */
const TYPE_BYTES = 2

/** The range [start, end) of a record a slot keeps after the type: from the first field to the last, no header or padding around them. */
type Kept = readonly [number, number]

/** rec_event: kind (4) to the end of its marks, the record's end. */
const EVENT_KEPT: Kept = [4, RECORD_SIZES[RecordType.event]]
/** rec_drop: reason (4) to the end of reason_name (112). */
const DROP_KEPT: Kept = [4, 112]

/** Bytes of one slot of a session's EventLog: 262 (with ten marks), against 264 for a rec_event as sent. */
export const EVENT_SLOT_BYTES = TYPE_BYTES + Math.max(...[EVENT_KEPT, DROP_KEPT].map(([start, end]) => end - start))

/** Packs a rec_event or rec_drop (validated by the parser) into the slot at `at`: one copy. */
export function packRecord (record: Buffer, slots: Buffer, at: number): void {
  const type = record.readUInt16LE(0)
  const [start, end] = type === RecordType.drop ? DROP_KEPT : EVENT_KEPT
  slots.writeUInt16LE(type, at)
  record.copy(slots, at + TYPE_BYTES, start, end)
}

/** The SSE `event:` name of a buffered (packed) rec_event or rec_drop. */
export function eventType (bytes: Buffer, at: number): EventTypeName | 'drop' {
  if (bytes.readUInt16LE(at) === RecordType.drop) return 'drop'
  return EVENT_KINDS[eventKindIndex(bytes, at)]!.type
}

/** The index in EVENT_KINDS of a buffered rec_event's kind (the parser checked it). */
export function eventKindIndex (bytes: Buffer, at: number): number {
  return 31 - Math.clz32(bytes.readUInt32LE(at + EVENT_SLOT_FIELDS.kind))
}

/** A table of field offsets, nested, with any numbers. */
type Offsets<T> = { [K in keyof T]: T[K] extends number ? number : Offsets<T[K]> }

/** The same field names as `fields` (offsets in the record), as offsets in a slot. */
function slotFields<T extends object> ([start, end]: Kept, fields: T): Offsets<T> {
  return Object.fromEntries(Object.entries(fields).map(([name, value]: [string, unknown]) => {
    if (typeof value !== 'number') return [name, slotFields([start, end], value as object)]
    if (value < start || value >= end) throw new Error(`field ${name} (byte ${value}) is not kept in a slot`)
    return [name, TYPE_BYTES + value - start]
  })) as Offsets<T>
}

/** rec_event's fields (records.ts EVENT_FIELDS) as offsets in a slot. */
export const EVENT_SLOT_FIELDS = slotFields(EVENT_KEPT, EVENT_FIELDS)
/** rec_drop's fields (records.ts DROP_FIELDS) as offsets in a slot. */
export const DROP_SLOT_FIELDS = slotFields(DROP_KEPT, DROP_FIELDS)

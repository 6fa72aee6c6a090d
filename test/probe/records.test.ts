import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { cString, formatIPv4, formatIPv6, RecordError, RecordParser, u64, u64Decimal, type ProbeRecord } from '../../src/probe/records.js'

// Written by bpf/tools/golden.c (test/probe/golden.test.ts checks that it still writes exactly this): one record of every type, with the values asserted below.
const FIXTURE = readFileSync(new URL('../fixtures/records.bin', import.meta.url))

const GOLDEN: ProbeRecord[] = [
  {
    type: 'hello',
    version: 5,
    plan: 'tracepoint',
    marks: ['send', 'queued', 'xmitStart', 'xmitDone', 'rx', 'arrive', 'read', 'return', 'sent'],
    direction: 'both',
    realtimeOffsetNs: 1764000000123456789n,
    kernelRelease: '6.18.44-test',
    notes: 'fentry: -EPERM; kprobe: not configured'
  },
  // Events and drops stay the loader's bytes (their values: test/sessions/event-formatter.test.ts).
  { type: 'event', bytes: FIXTURE.subarray(344, 608) },
  { type: 'event', bytes: FIXTURE.subarray(608, 872) },
  { type: 'event', bytes: FIXTURE.subarray(872, 1136) },
  { type: 'drop', bytes: FIXTURE.subarray(1136, 1248) },
  {
    type: 'stats',
    timeNs: 4000000000,
    matched: 1000,
    slow: 10,
    emitted: 8,
    kernelLost: 2,
    drops: 3,
    dropsLost: 1,
    stale: 4,
    untracked: 5,
    readerBusy: 6,
    readerRunqueue: 2,
    readerBlocked: 1,
    readerUnknown: 1
  },
  {
    type: 'hist',
    hist: 'queue',
    slots: [...Array.from({ length: 39 }, (_, i) => i), 2 ** 40 + 3]
  },
  { type: 'drop_count', reason: 6, count: 3, reasonName: 'SOCKET_RCVBUFF' },
  { type: 'error', err: -1, message: 'failed to attach tp_btf/netif_receive_skb: -EPERM' },
  { type: 'bye', status: 0 }
]

function parseInChunks (sizes: Iterable<number>): ProbeRecord[] {
  const parser = new RecordParser()
  const records: ProbeRecord[] = []
  let offset = 0
  for (const size of sizes) {
    records.push(...parser.push(FIXTURE.subarray(offset, offset + size)))
    offset += size
    if (offset >= FIXTURE.length) break
  }
  parser.end()
  return records
}

/** A record header followed by zeros. */
function header (type: number, size: number, total = size): Buffer {
  const buf = Buffer.alloc(total)
  buf.writeUInt16LE(type, 0)
  buf.writeUInt16LE(size, 2)
  return buf
}

describe('RecordParser', () => {
  it('parses every value of the golden fixture', () => {
    expect(parseInChunks([FIXTURE.length])).toEqual(GOLDEN)
  })

  it('hands events and drops over as their raw bytes', () => {
    const [, event] = parseInChunks([FIXTURE.length])
    expect(event).toMatchObject({ type: 'event' })
    if (event?.type !== 'event') return
    expect(event.bytes.length).toBe(264)
    expect(event.bytes.readUInt16LE(0)).toBe(2)
  })

  it('parses the fixture fed one byte at a time', () => {
    expect(parseInChunks(Array.from({ length: FIXTURE.length }, () => 1))).toEqual(GOLDEN)
  })

  it('parses the fixture fed in random chunks', () => {
    let seed = 42
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    for (let round = 0; round < 50; round++) {
      const sizes = Array.from({ length: FIXTURE.length }, () => 1 + Math.floor(random() * 400))
      expect(parseInChunks(sizes)).toEqual(GOLDEN)
    }
  })

  it('returns nothing until a record is complete', () => {
    const parser = new RecordParser()
    expect(parser.push(FIXTURE.subarray(0, 2))).toEqual([])
    expect(parser.push(FIXTURE.subarray(2, 343))).toEqual([])
    expect(parser.push(FIXTURE.subarray(343, 344))).toEqual([GOLDEN[0]])
  })

  it('rejects an unknown record type', () => {
    expect(() => new RecordParser().push(header(99, 8))).toThrow(new RecordError('unknown record type 99 at byte 0'))
  })

  it('names the stream offset of a bad record', () => {
    const parser = new RecordParser()
    parser.push(FIXTURE.subarray(0, 608))
    expect(() => parser.push(header(99, 8))).toThrow('unknown record type 99 at byte 608')
  })

  it('rejects a record whose size does not match its type', () => {
    expect(() => new RecordParser().push(header(2, 112))).toThrow(/record type 2 has size 112, expected 264/)
  })

  it('rejects a bad header as soon as it is complete, before the body arrives', () => {
    const parser = new RecordParser()
    expect(() => parser.push(header(4, 81, 4))).toThrow(RecordError)
  })

  it('rejects another protocol version', () => {
    const hello = Buffer.from(FIXTURE.subarray(0, 344))
    hello.writeUInt16LE(4, 4)
    expect(() => new RecordParser().push(hello)).toThrow(/protocol version 4, expected 5/)
  })

  it('rejects an unknown direction', () => {
    const hello = Buffer.from(FIXTURE.subarray(0, 344))
    hello.writeUInt32LE(4, 12)
    expect(() => new RecordParser().push(hello)).toThrow(/unknown direction 4/)
  })

  it('rejects an event of an unknown kind', () => {
    const event = Buffer.from(FIXTURE.subarray(344, 608))
    event.writeUInt32LE(3, 4)
    expect(() => new RecordParser().push(event)).toThrow(/event of unknown kind 3/)
  })

  it('rejects an unknown address family', () => {
    const event = Buffer.from(FIXTURE.subarray(344, 608))
    event.writeUInt16LE(1, 56)
    expect(() => new RecordParser().push(event)).toThrow(/unknown address family 1/)
  })

  it('reports a stream that ends inside a record', () => {
    const parser = new RecordParser()
    parser.push(FIXTURE.subarray(0, 10))
    expect(() => parser.end()).toThrow(/ended inside a record \(10 bytes left\)/)
  })
})

describe('field readers', () => {
  it('reads a u64 as a Number below 2^53, and in exact decimal over all 64 bits', () => {
    const buf = Buffer.alloc(8)
    for (const value of [0n, 1n, 2n ** 32n + 5n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 64n - 1n]) {
      buf.writeBigUInt64LE(value)
      expect(u64Decimal(buf, 0)).toBe(value.toString())
      if (value < 2n ** 53n) expect(u64(buf, 0)).toBe(Number(value))
    }
  })

  it('reads a NUL-terminated string, or the whole field when it has no NUL', () => {
    const buf = Buffer.from('abc\0xyz-and-more')
    expect(cString(buf, 0, 8)).toBe('abc')
    expect(cString(buf, 4, 3)).toBe('xyz')
  })

  it('formats an IPv4 address from its four bytes', () => {
    expect(formatIPv4(Buffer.from([0, 10, 0, 0, 255, 7]), 1)).toBe('10.0.0.255')
  })
})

describe('formatIPv6', () => {
  const bytes = (hex: string) => Buffer.from(hex.replaceAll(':', ''), 'hex')

  it.each([
    ['20010db8:00000000:00000000:00000001', '2001:db8::1'],
    ['00000000:00000000:00000000:00000001', '::1'],
    ['00000000:00000000:00000000:00000000', '::'],
    ['20010db8:00000001:00000000:00000001', '2001:db8:0:1::1'],
    ['20010db8:00000000:00010000:00000001', '2001:db8::1:0:0:1'],
    ['fe800000:00000000:02aabbff:fecc0001', 'fe80::2aa:bbff:fecc:1'],
    ['20010db8:00010002:00030004:00050006', '2001:db8:1:2:3:4:5:6'],
    ['00000001:00000000:00000000:00000000', '0:1::'],
    ['20010000:00000001:00000000:00000001', '2001:0:0:1::1']
  ])('%s → %s', (hex, text) => {
    expect(formatIPv6(bytes(hex))).toBe(text)
  })
})

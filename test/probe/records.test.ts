import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { formatIPv6, RecordError, RecordParser, type ProbeRecord } from '../../src/probe/records.js'

// Written by bpf/golden.c: one record of every type, with the values asserted below.
const FIXTURE = readFileSync(new URL('../fixtures/records.bin', import.meta.url))

const GOLDEN: ProbeRecord[] = [
  {
    type: 'hello',
    version: 1,
    plan: 'tracepoint',
    marks: ['arrive', 'read', 'return'],
    realtimeOffsetNs: 1764000000123456789n,
    kernelRelease: '6.18.44-test',
    notes: 'fentry: -EPERM; kprobe: not configured'
  },
  {
    type: 'event',
    arriveNs: 1000000000,
    enqueueNs: 1000010000,
    readNs: 1020010000,
    returnNs: 1020015000,
    cgroupId: '9007199254740993',
    family: 'ipv4',
    saddr: '127.0.0.1',
    daddr: '127.0.0.2',
    sport: 40000,
    dport: 9999,
    len: 512,
    pid: 4242,
    tid: 4243,
    comm: 'receiver'
  },
  {
    type: 'event',
    arriveNs: 2000000000,
    enqueueNs: 0,
    readNs: 2005000000,
    returnNs: 2005000100,
    cgroupId: '1',
    family: 'ipv6',
    saddr: '2001:db8::1',
    daddr: '::1',
    sport: 53,
    dport: 5353,
    len: 0,
    pid: 7,
    tid: 7,
    comm: 'fifteen-chars-x'
  },
  {
    type: 'drop',
    reason: 6,
    reasonName: 'SOCKET_RCVBUFF',
    timeNs: 3000000000,
    family: 'ipv4',
    saddr: '10.0.0.1',
    daddr: '10.0.0.2',
    sport: 1234,
    dport: 9999,
    len: 1400
  },
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
    untracked: 5
  },
  {
    type: 'hist',
    stage: 'queue',
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

  it('keeps the 64-bit cgroup id exact', () => {
    const [, event] = parseInChunks([FIXTURE.length])
    expect(event).toMatchObject({ cgroupId: String(2n ** 53n + 1n) })
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
    expect(parser.push(FIXTURE.subarray(2, 335))).toEqual([])
    expect(parser.push(FIXTURE.subarray(335, 336))).toEqual([GOLDEN[0]])
  })

  it('rejects an unknown record type', () => {
    expect(() => new RecordParser().push(header(99, 8))).toThrow(new RecordError('unknown record type 99 at byte 0'))
  })

  it('names the stream offset of a bad record', () => {
    const parser = new RecordParser()
    parser.push(FIXTURE.subarray(0, 456))
    expect(() => parser.push(header(99, 8))).toThrow('unknown record type 99 at byte 456')
  })

  it('rejects a record whose size does not match its type', () => {
    expect(() => new RecordParser().push(header(2, 112))).toThrow(/record type 2 has size 112, expected 120/)
  })

  it('rejects a bad header as soon as it is complete, before the body arrives', () => {
    const parser = new RecordParser()
    expect(() => parser.push(header(4, 81, 4))).toThrow(RecordError)
  })

  it('rejects another protocol version', () => {
    const hello = Buffer.from(FIXTURE.subarray(0, 336))
    hello.writeUInt16LE(2, 4)
    expect(() => new RecordParser().push(hello)).toThrow(/protocol version 2, expected 1/)
  })

  it('rejects an unknown address family', () => {
    const event = Buffer.from(FIXTURE.subarray(336, 456))
    event.writeUInt16LE(1, 96)
    expect(() => new RecordParser().push(event)).toThrow(/unknown address family 1/)
  })

  it('reports a stream that ends inside a record', () => {
    const parser = new RecordParser()
    parser.push(FIXTURE.subarray(0, 10))
    expect(() => parser.end()).toThrow(/ended inside a record \(10 bytes left\)/)
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
    ['20010db8:00010002:00030004:00050006', '2001:db8:1:2:3:4:5:6']
  ])('%s → %s', (hex, text) => {
    expect(formatIPv6(bytes(hex))).toBe(text)
  })
})

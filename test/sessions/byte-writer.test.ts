import { describe, expect, it } from 'vitest'
import { ascii, ByteWriter } from '../../src/sessions/byte-writer.js'

describe('ByteWriter', () => {
  it('writes integers as JSON does, null included', () => {
    const values = [0, 7, 10, 99, 100, 65535, 4_294_967_295, 1e15, 2 ** 53 - 1, null]
    const out = new ByteWriter(1)
    values.forEach((n, i) => {
      if (i > 0) out.bytes(ascii(','))
      out.integer(n)
    })
    expect(out.take().toString()).toBe(values.map((n) => JSON.stringify(n)).join(','))
  })

  it('falls back to JavaScript\'s text for what is not a safe non-negative integer', () => {
    const out = new ByteWriter()
    for (const n of [2 ** 53 + 2, -1, 1.5]) out.integer(n)
    expect(out.take().toString()).toBe(`${2 ** 53 + 2}-11.5`)
  })

  it('zero-pads nine digits', () => {
    const out = new ByteWriter()
    for (const n of [0, 5, 999_999_999]) out.nineDigits(n)
    expect(out.take().toString()).toBe('000000000000000005999999999')
  })

  it('grows past its initial size and starts over after each take', () => {
    const out = new ByteWriter(4)
    const long = ascii('x'.repeat(100))
    out.bytes(ascii('ab'))
    out.bytes(long)
    out.text('é…')
    const first = out.take()
    expect(first.toString()).toBe(`ab${'x'.repeat(100)}é…`)
    expect(out.length).toBe(0)
    out.bytes(ascii('c'))
    expect(out.take().toString()).toBe('c')
    expect(first.toString()).toBe(`ab${'x'.repeat(100)}é…`)
  })
})

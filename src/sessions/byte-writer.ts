/** ASCII text, encoded once: the literal parts of what a ByteWriter writes. */
export function ascii (text: string): Buffer {
  return Buffer.from(text, 'latin1')
}

const NULL = ascii('null')
const EMPTY = Buffer.alloc(0)
const ZERO = 0x30

/**
 * Writes text straight into a growing Buffer: pre-encoded pieces, and integers digit by digit.
 * Events are written with it from their binary records, so that serving one costs no object, no
 * intermediate string and no UTF-8 encoding pass.
 */
export class ByteWriter {
  #buf: Buffer = EMPTY
  #pos = 0

  /** `initialBytes`: the buffer's size, allocated at the first write after each take. */
  constructor (private readonly initialBytes = 64 * 1024) {}

  /** Bytes written since the last take. */
  get length (): number { return this.#pos }

  /** Pre-encoded bytes: literal pieces, cached field text. */
  bytes (piece: Uint8Array): void {
    this.#reserve(piece.length)
    const buf = this.#buf
    const pos = this.#pos
    // TypedArray#set costs more than a short loop for the few bytes most pieces have.
    if (piece.length <= 16) for (let i = 0; i < piece.length; i++) buf[pos + i] = piece[i] ?? 0
    else buf.set(piece, pos)
    this.#pos = pos + piece.length
  }

  /** A string, as UTF-8. */
  text (text: string): void {
    this.#reserve(Buffer.byteLength(text))
    this.#pos += this.#buf.write(text, this.#pos)
  }

  /** A non-negative integer in decimal, or `null`. */
  integer (n: number | null): void {
    if (n === null) return this.bytes(NULL)
    if (!(Number.isInteger(n) && n >= 0 && n <= Number.MAX_SAFE_INTEGER)) return this.text(String(n))
    let digits = 1
    for (let power = 10; power <= n; power *= 10) digits++
    this.#digits(n, digits)
  }

  /** An integer in [0, 1e9) as exactly nine digits: the fraction of a second in nanoseconds. */
  nineDigits (n: number): void {
    this.#digits(n, 9)
  }

  /** What was written, as a Buffer of its own; the writer starts over with a new buffer. */
  take (): Buffer {
    const written = this.#buf.subarray(0, this.#pos)
    this.#buf = EMPTY
    this.#pos = 0
    return written
  }

  /** Writes the `digits` low decimal digits of n, zero-padded. */
  #digits (n: number, digits: number): void {
    this.#reserve(digits)
    const buf = this.#buf
    let i = this.#pos + digits
    this.#pos = i
    for (let left = digits; left > 0; left--) {
      // Exact for n < 2^53: the quotient of a correctly rounded division never reaches the next integer.
      const quotient = Math.floor(n / 10)
      buf[--i] = ZERO + (n - quotient * 10)
      n = quotient
    }
  }

  #reserve (bytes: number): void {
    if (this.#pos + bytes <= this.#buf.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.initialBytes, 2 * this.#buf.length, this.#pos + bytes))
    this.#buf.copy(grown, 0, 0, this.#pos)
    this.#buf = grown
  }
}

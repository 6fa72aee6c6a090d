import { ascii, type ByteWriter } from './byte-writer.js'

const NS_PER_S = 1_000_000_000

const Z = ascii('Z')

/**
 * Turns CLOCK_MONOTONIC ns into RFC 3339 wall-clock time, with the offset from the loader's hello.
 * Formats one Date per second of marks, not one per event: events come in time order.
 */
export class RealtimeClock {
  readonly #offsetS: number
  readonly #offsetNs: number
  #prefixSeconds = Number.NaN
  /** "YYYY-MM-DDTHH:MM:SS." of #prefixSeconds, as text and as bytes. */
  #prefix = ''
  #prefixBytes: Buffer = Buffer.alloc(0)

  constructor (realtimeOffsetNs: bigint) {
    const ns = BigInt(NS_PER_S)
    // Floor division, so that the nanosecond part stays in [0, 1e9) for negative offsets too.
    this.#offsetS = Number(realtimeOffsetNs / ns) - (realtimeOffsetNs % ns < 0n ? 1 : 0)
    this.#offsetNs = Number(realtimeOffsetNs - BigInt(this.#offsetS) * ns)
  }

  iso (monotonicNs: number): string {
    const ns = this.#secondOf(monotonicNs)
    // 1e9 + ns has ten digits: dropping the first zero-pads ns to nine.
    return `${this.#prefix}${String(NS_PER_S + ns).slice(1)}Z`
  }

  write (out: ByteWriter, monotonicNs: number): void {
    const ns = this.#secondOf(monotonicNs)
    out.bytes(this.#prefixBytes)
    out.nineDigits(ns)
    out.bytes(Z)
  }

  /** Points the prefix at the wall-clock second of the mark; returns the nanoseconds into that second. */
  #secondOf (monotonicNs: number): number {
    const markS = Math.floor(monotonicNs / NS_PER_S)
    const sumNs = monotonicNs - markS * NS_PER_S + this.#offsetNs
    const carry = sumNs >= NS_PER_S ? 1 : 0
    const seconds = this.#offsetS + markS + carry
    if (seconds !== this.#prefixSeconds) {
      this.#prefixSeconds = seconds
      this.#prefix = new Date(seconds * 1000).toISOString().slice(0, 20)
      this.#prefixBytes = ascii(this.#prefix)
    }
    return sumNs - carry * NS_PER_S
  }
}

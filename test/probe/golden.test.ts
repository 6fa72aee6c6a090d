import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

// bpf/tools/golden.c writes one record of every type from the C side's own structs; the service's parser
// is tested against its committed output (records.test.ts). This pins the C side to the same bytes.
const GOLDEN = new URL('../../bpf/build/golden', import.meta.url)
const FIXTURE = new URL('../fixtures/records.bin', import.meta.url)

describe('the golden records', () => {
  it('are written by the C side byte for byte as committed in test/fixtures/records.bin', () => {
    const written = execFileSync(GOLDEN.pathname, { timeout: 10_000 })
    expect(written.equals(readFileSync(FIXTURE)), 'rebuild bpf/ and run bpf/build/golden > test/fixtures/records.bin with UDPLAT_PROTO_VERSION bumped').toBe(true)
  })
})

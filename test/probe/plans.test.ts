import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { listPlans } from '../../src/probe/plans.js'
import { FAKE_PROBE, FAKE_PROBE_ENV, fakeProbe } from '../helpers/app.js'

afterEach(() => { fakeProbe('run') })

describe('listPlans', () => {
  it('reads the loader\'s --list-plans JSON', async () => {
    fakeProbe('run', { plans: 'tracepoint' })
    expect(await listPlans(FAKE_PROBE, FAKE_PROBE_ENV)).toMatchObject({
      kernel: '6.18.0-fake',
      btf: true,
      auto: 'tracepoint',
      plans: [{ name: 'fentry', available: false }, { name: 'kprobe', available: false }, { name: 'tracepoint', available: true }]
    })
  })

  it('takes the JSON of a loader that exits 1 for want of BTF', async () => {
    fakeProbe('run', { plans: 'no-btf' })
    expect(await listPlans(FAKE_PROBE, FAKE_PROBE_ENV)).toEqual({ kernel: '6.18.0-fake', btf: false, auto: null, plans: [] })
  })

  it('says why without a plan list', async () => {
    fakeProbe('run', { plans: 'garbage' })
    await expect(listPlans(FAKE_PROBE, FAKE_PROBE_ENV)).rejects.toThrow(`the loader ${FAKE_PROBE} --list-plans exited with code 4: fake: cannot list plans`)
  })

  it('says the loader is missing, or not executable', async () => {
    await expect(listPlans('/nonexistent/udplat-probe', FAKE_PROBE_ENV)).rejects.toThrow('cannot run the loader /nonexistent/udplat-probe: no such file')
    const file = join(mkdtempSync(join(tmpdir(), 'udplat-plans-')), 'udplat-probe')
    writeFileSync(file, '#!/bin/sh\n')
    chmodSync(file, 0o644)
    await expect(listPlans(file, FAKE_PROBE_ENV)).rejects.toThrow(`cannot run the loader ${file}: permission denied`)
  })
})

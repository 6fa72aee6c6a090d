import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { INSTALL, ROOT, UNIT, unitSetting } from './tree.js'

const exec = promisify(execFile)
const unitText = readFileSync(UNIT, 'utf8')

/** Runs a command and returns everything it printed; rejects on a non-zero exit. */
async function output (file: string, args: string[]): Promise<string> {
  const { stdout, stderr } = await exec(file, args, { timeout: 30_000 })
  return stdout + stderr
}

describe('systemd/udplat.service', () => {
  it('passes systemd-analyze verify without a word (it exits 0 even on misspelled keys)', async () => {
    expect(await output('systemd-analyze', ['verify', UNIT])).toBe('')
  })

  it('justifies, in its "Exposures kept" comment, every exposure systemd-analyze security reports; the score is the documented one', async () => {
    const checks = JSON.parse(await output('systemd-analyze', ['security', '--offline=true', '--json=short', UNIT])) as
      Array<{ name: string, set: boolean, exposure: number | null }>
    const exposed = checks.filter((check) => !check.set && (check.exposure ?? 0) > 0).map((check) => check.name)
    const kept = unitText.slice(unitText.indexOf('# Exposures kept'))
    const justified = new Set([...kept.matchAll(/^# {2}(\w+)=/gm)].map((match) => match[1]))
    for (const name of exposed) {
      expect(justified, `${name} is exposed but not justified`).toContain(name.slice(0, name.indexOf('=')))
    }

    const report = await output('systemd-analyze', ['security', '--offline=true', UNIT])
    const score = /Overall exposure level for udplat\.service: ([\d.]+) (\w+)/.exec(report)
    expect(score, report).not.toBeNull()
    console.log(`systemd-analyze security --offline=true: exposure ${score![1]} ${score![2]}; exposed: ${exposed.join(', ')}`)
    expect(readFileSync(`${ROOT}docs/deployment.md`, 'utf8')).toContain(`exposure level ${score![1]} ${score![2]}`)
  })

  it('bounds capabilities to the loader\'s file capabilities and what setpriv needs to drop privileges', () => {
    const loaderCaps = /^loader_caps=cap_bpf,cap_perfmon=ep$/m.exec(readFileSync(INSTALL, 'utf8'))
    expect(loaderCaps, 'scripts/install sets the loader\'s capabilities').not.toBeNull()
    expect(unitSetting(unitText, 'CapabilityBoundingSet').split(' ').sort())
      .toEqual(['CAP_BPF', 'CAP_PERFMON', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID'])
    expect(unitSetting(unitText, 'AmbientCapabilities').split(' ').sort()).toEqual(['CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID'])
    const start = unitSetting(unitText, 'ExecStart').split(' ')
    expect(start).toEqual(expect.arrayContaining(['--inh-caps=-all', '--bounding-set=-all,+bpf,+perfmon', '--reuid=udplat', '--regid=udplat']))
    // no_new_privs, set explicitly or implied by User= with seccomp, would void the loader's file capabilities.
    expect(unitSetting(unitText, 'NoNewPrivileges')).toBe('no')
    expect(unitText).not.toMatch(/^(User|DynamicUser)=/m)
    expect(unitText).toMatch(/^SystemCallFilter=@system-service bpf perf_event_open$/m)
  })
})

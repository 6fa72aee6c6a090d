import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ids, installTree, runtimeStageInstallArgs, ROOT, unitSetting, type InstalledTree } from './tree.js'

// scripts/install as root, for real: a system user, files, the loader's file capabilities. Each install copies the
// production node_modules tree: seconds of system time on a slow disk, hence the bounds below.
const INSTALL_MS = 180_000
const lock = JSON.parse(readFileSync(`${ROOT}package-lock.json`, 'utf8')) as { packages: Record<string, { dev?: boolean }> }
const topLevel = Object.entries(lock.packages).filter(([path]) => /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path))

function expectServiceTree (tree: InstalledTree): void {
  const { uid, gid, shell } = ids(tree.user)
  expect(uid).toBeLessThan(1000)
  expect(shell).toBe('/usr/sbin/nologin')

  const loader = statSync(`${tree.prefix}/bin/udplat-probe`)
  expect({ uid: loader.uid, gid: loader.gid, mode: loader.mode & 0o7777 }).toEqual({ uid: 0, gid, mode: 0o750 })
  const caps = execFileSync('getcap', [`${tree.prefix}/bin/udplat-probe`], { encoding: 'utf8' })
  expect(/ (\S+)=ep$/m.exec(caps)?.[1]?.split(',').sort()).toEqual(['cap_bpf', 'cap_perfmon'])

  expect(existsSync(`${tree.prefix}/dist/server.js`)).toBe(true)
  expect(JSON.parse(readFileSync(`${tree.prefix}/package.json`, 'utf8')).type).toBe('module')
  expect(statSync(`${tree.prefix}/bin/udplat-healthcheck`).mode & 0o777).toBe(0o755)
  for (const [path, meta] of topLevel) {
    if (existsSync(`${ROOT}${path}`)) expect(existsSync(`${tree.prefix}/${path}`), path).toBe(!meta.dev)
  }
  // Root owns everything else: the service user cannot change its own code.
  const writable = execFileSync('find', [tree.prefix, '(', '!', '-user', 'root', '-o', '-perm', '/022', ')', '-print'], { encoding: 'utf8' })
  expect(writable).toBe('')
}

describe('scripts/install --container, the Dockerfile runtime stage\'s install step', () => {
  let tree: InstalledTree
  beforeAll(() => { tree = installTree(runtimeStageInstallArgs(), 'c') }, INSTALL_MS)
  afterAll(() => tree?.remove(), INSTALL_MS)

  it('installs the service, its production dependencies only, and the loader with cap_bpf,cap_perfmon=ep for its group', () => {
    expect(tree.output).toContain(`created system user ${tree.user}`)
    expectServiceTree(tree)
  })

  it('installs no systemd unit or environment file', () => {
    expect(existsSync(tree.unitdir)).toBe(false)
    expect(existsSync(tree.sysconfdir)).toBe(false)
  })
})

describe('scripts/install on a host', () => {
  let tree: InstalledTree
  beforeAll(() => { tree = installTree([], 'h') }, INSTALL_MS)
  afterAll(() => tree?.remove(), INSTALL_MS)

  it('installs the same tree, and a unit rewritten to its paths and user that systemd-analyze verify accepts', () => {
    expectServiceTree(tree)
    const unitPath = `${tree.unitdir}/udplat.service`
    const unit = readFileSync(unitPath, 'utf8')
    const node = unitSetting(unit, 'ExecStart').split(' -- ')[1]!.split(' ')[0]!
    expect(unitSetting(unit, 'ExecStart')).toBe(`/usr/bin/setpriv --reuid=${tree.user} --regid=${tree.user} --clear-groups ` +
      `--inh-caps=-all --bounding-set=-all,+bpf,+perfmon -- ${node} --max-semi-space-size=1 --v8-pool-size=1 ${tree.prefix}/dist/server.js`)
    expect(realpathSync(node)).toBe(realpathSync(process.execPath))
    expect(unitSetting(unit, 'Environment')).toBe(`UDPLAT_PROBE=${tree.prefix}/bin/udplat-probe`)
    expect(unitSetting(unit, 'EnvironmentFile')).toBe(`-${tree.sysconfdir}/udplat.env`)
    expect(execFileSync('systemd-analyze', ['verify', unitPath], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toBe('')
    expect(statSync(`${tree.sysconfdir}/udplat.env`).mode & 0o777).toBe(0o600)
  }, INSTALL_MS)

  it('runs again without change, keeping the user and the operator\'s environment file', () => {
    const { uid } = ids(tree.user)
    const edited = '# edited by the operator\nUDPLAT_PORT=9999\n'
    writeFileSync(`${tree.sysconfdir}/udplat.env`, edited)
    const output = tree.reinstall()
    expect(output).not.toContain('created system user')
    expect(ids(tree.user).uid).toBe(uid)
    expect(readFileSync(`${tree.sysconfdir}/udplat.env`, 'utf8')).toBe(edited)
    expectServiceTree(tree)
  }, INSTALL_MS)
})

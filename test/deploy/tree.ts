import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'

/** Deployment tests run the real scripts/install, as root, into a temporary tree with a temporary user. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const INSTALL = `${ROOT}scripts/install`
export const UNIT = `${ROOT}systemd/udplat.service`
export const DOCKERFILE = `${ROOT}Dockerfile`

/** CAP_PERFMON (38) and CAP_BPF (39), as /proc/PID/status shows capability sets. */
export const BPF_CAPS_MASK = (1n << 38n) | (1n << 39n)

export interface InstalledTree {
  root: string
  prefix: string
  sysconfdir: string
  unitdir: string
  user: string
  /** What the last run of scripts/install printed. */
  output: string
  /** Runs scripts/install again on the same tree and user. */
  reinstall (): string
  /** Deletes the user, its group and the tree. */
  remove (): void
}

/** Runs scripts/install with `args` into a fresh temporary tree, for a fresh system user. */
export function installTree (args: string[], label: string): InstalledTree {
  const root = mkdtempSync(`/tmp/udplat-${label}-`)
  // The service user must reach the tree: mkdtemp makes it 0700.
  chmodSync(root, 0o755)
  const user = `udplat-${label}-${randomBytes(3).toString('hex')}`
  const tree = {
    root,
    prefix: `${root}/opt/udplat`,
    sysconfdir: `${root}/etc/udplat`,
    unitdir: `${root}/etc/systemd/system`,
    user,
    output: '',
    reinstall: () => (tree.output = run()),
    remove: () => {
      if (userExists(user)) execFileSync('userdel', [user])
      if (groupExists(user)) execFileSync('groupdel', [user])
      rmSync(root, { recursive: true, force: true })
    }
  }
  const run = () => execFileSync(INSTALL, args, {
    encoding: 'utf8',
    env: { ...process.env, PREFIX: tree.prefix, SYSCONFDIR: tree.sysconfdir, UNITDIR: tree.unitdir, UDPLAT_USER: user },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000
  })
  try {
    tree.reinstall()
  } catch (err) {
    tree.remove()
    throw err
  }
  return tree
}

function userExists (name: string): boolean {
  return readFileSync('/etc/passwd', 'utf8').split('\n').some((line) => line.startsWith(`${name}:`))
}

function groupExists (name: string): boolean {
  return readFileSync('/etc/group', 'utf8').split('\n').some((line) => line.startsWith(`${name}:`))
}

/** uid and gid of a user, from getent. */
export function ids (user: string): { uid: number, gid: number, shell: string } {
  const [, , uid, gid, , , shell] = execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).trim().split(':')
  return { uid: Number(uid), gid: Number(gid), shell: shell ?? '' }
}

/** The arguments the Dockerfile's runtime stage passes to scripts/install. */
export function runtimeStageInstallArgs (): string[] {
  const stages = readFileSync(DOCKERFILE, 'utf8').replace(/\\\n/g, ' ').split(/^FROM /m)
  const runtime = stages[stages.length - 1] ?? ''
  const match = /^RUN .*\/scripts\/install( [^\n]*)?$/m.exec(runtime)
  if (match === null) throw new Error('the Dockerfile\'s runtime stage does not run scripts/install')
  return (match[1] ?? '').trim().split(/\s+/).filter(Boolean)
}

/** The value of one `Key=` line of a unit file (the last one, as systemd reads it). */
export function unitSetting (unitText: string, key: string): string {
  const values = unitText.split('\n').filter((line) => line.startsWith(`${key}=`)).map((line) => line.slice(key.length + 1))
  const value = values[values.length - 1]
  if (value === undefined) throw new Error(`no ${key}= in the unit`)
  return value
}

/** How the installed unit starts the service: its ExecStart (setpriv as the service user, `--`, node and the service), and its loader. */
export interface UnitService {
  file: string
  args: string[]
  /** setpriv and its options, up to and including `--`. */
  dropPrivileges: string[]
  probe: string
}

export function unitService (tree: InstalledTree): UnitService {
  const unit = readFileSync(`${tree.unitdir}/udplat.service`, 'utf8')
  const start = unitSetting(unit, 'ExecStart').split(' ')
  return {
    file: start[0]!,
    args: start.slice(1),
    dropPrivileges: start.slice(0, start.indexOf('--') + 1),
    probe: unitSetting(unit, 'Environment').replace(/^UDPLAT_PROBE=/, '')
  }
}

export interface Credentials {
  /** Real, effective, saved and file-system uid. */
  uids: number[]
  noNewPrivs: boolean
  inheritable: bigint
  permitted: bigint
  effective: bigint
  bounding: bigint
  ambient: bigint
}

/** A process's ids and capability sets, from /proc/PID/status (readable even when the process is not dumpable). */
export function credentials (pid: number): Credentials {
  const fields = new Map(readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').map((line) => {
    const [name, value] = line.split(/:\s*/, 2)
    return [name, value ?? '']
  }))
  const caps = (name: string) => BigInt(`0x${fields.get(name)}`)
  return {
    uids: (fields.get('Uid') ?? '').split(/\s+/).map(Number),
    noNewPrivs: fields.get('NoNewPrivs') === '1',
    inheritable: caps('CapInh'),
    permitted: caps('CapPrm'),
    effective: caps('CapEff'),
    bounding: caps('CapBnd'),
    ambient: caps('CapAmb')
  }
}

import { opendir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ValidationFailed } from '../errors.js'

const FIELD = 'body/filter/cgroup'
/** An id is looked for among at most this many cgroups: a host has hundreds, not hundreds of thousands. */
const MAX_CGROUPS_WALKED = 100_000

/** Where cgroup v2 is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts (as the loader finds it). */
async function cgroup2Root (): Promise<string> {
  const mounts = await readFile('/proc/self/mounts', 'utf8')
  const root = mounts.split('\n').map((line) => line.split(' ')).find((fields) => fields[2] === 'cgroup2')?.[1]
  if (root === undefined) throw new ValidationFailed(`${FIELD}: this host has no cgroup v2 mount`)
  return root
}

/** Whether path is a cgroup: a directory of the cgroup2 file system (a file in it, such as cgroup.procs, is not). */
async function isCgroup (path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory()
  } catch {
    return false
  }
}

/** The cgroup whose id (its directory's inode on cgroup2) is id, breadth first, or undefined. */
async function findById (root: string, id: bigint): Promise<string | undefined> {
  const queue = [root]
  for (let walked = 0; walked < queue.length && walked < MAX_CGROUPS_WALKED; walked++) {
    const dir = queue[walked]!
    if ((await stat(dir, { bigint: true })).ino === id) return dir
    try {
      for await (const entry of await opendir(dir)) if (entry.isDirectory()) queue.push(join(dir, entry.name))
    } catch {
      // A cgroup removed while we walk.
    }
  }
  return undefined
}

/**
 * Checks, before any loader runs, that a session's cgroup filter names an existing cgroup, as the loader
 * takes it: a path as /proc/PID/cgroup shows it ("/system.slice/x.service"), the same under the cgroup2
 * mount, or an id. Bad input is a 400 with the reason, never the loader's failure.
 */
export async function checkCgroup (value: string): Promise<void> {
  const root = await cgroup2Root()
  if (/^\d+$/.test(value)) {
    if (await findById(root, BigInt(value)) === undefined) throw new ValidationFailed(`${FIELD}: no cgroup v2 has id ${value} (under ${root})`)
    return
  }
  const path = value === root || value.startsWith(`${root}/`) ? value : join(root, value)
  if (!await isCgroup(path)) throw new ValidationFailed(`${FIELD}: ${path} is not a cgroup v2 directory`)
}

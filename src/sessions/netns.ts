import { readdir, readFile, stat } from 'node:fs/promises'
import { ValidationFailed } from '../errors.js'

const FIELD = 'body/filter/netns'
/** Processes looked at, at most: a host has hundreds or thousands. */
const MAX_PROCESSES = 100_000
/** Processes looked at together rather than one stat at a time. */
const BATCH = 128

/** The inode of the namespace at `path` (a /proc/PID/ns/net link, a bind mount), or undefined when it may not be seen. */
async function inodeAt (path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).ino
  } catch {
    return undefined
  }
}

/**
 * The network namespaces bound to a path (`ip netns add`, container runtimes): nsfs mounts, whose root field in
 * mountinfo is net:[INODE]. In this process's mount namespace, and in that of pid 1 where /proc shows it (a
 * container that shares the host's pids but not its mounts).
 */
async function boundNamespaces (): Promise<Set<number>> {
  const bound = new Set<number>()
  for (const file of ['/proc/self/mountinfo', '/proc/1/mountinfo']) {
    const text = await readFile(file, 'utf8').catch(() => '')
    for (const line of text.split('\n')) {
      const [mount, fs] = line.split(' - ')
      const inode = /^net:\[(\d+)\]$/.exec(mount?.split(' ')[3] ?? '')?.[1]
      if (fs?.startsWith('nsfs ') === true && inode !== undefined) bound.add(Number(inode))
    }
  }
  return bound
}

/**
 * Checks, before any loader runs, that a session's netns filter names a network namespace that exists. The service
 * holds no capability (docs/deployment.md), so it sees only: its own namespace, every one bound to a path, and
 * those of the processes /proc lets it inspect (its own user's; every one as root). A namespace held only by a
 * process of another user is hidden from it, and refused with a way to make it seen.
 */
export async function checkNetns (inode: number): Promise<void> {
  if (await inodeAt('/proc/self/ns/net') === inode || (await boundNamespaces()).has(inode)) return
  const pids = (await readdir('/proc').catch(() => [])).filter((name) => /^\d+$/.test(name)).slice(0, MAX_PROCESSES)
  let inspected = 0
  for (let at = 0; at < pids.length; at += BATCH) {
    const seen = await Promise.all(pids.slice(at, at + BATCH).map(async (pid) => await inodeAt(`/proc/${pid}/ns/net`)))
    if (seen.includes(inode)) return
    inspected += seen.filter((one) => one !== undefined).length
  }
  throw new ValidationFailed(`${FIELD}: no network namespace this service can see has inode ${inode}. It sees its own, those bound to a path ` +
    `(ip netns add, container runtimes) and those of the processes it may inspect (${inspected} of ${pids.length}); ` +
    'to trace one that only processes of another user hold, bind it to a path: ip netns attach NAME PID')
}

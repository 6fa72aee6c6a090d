import { readdirSync, readFileSync } from 'node:fs'

// What /proc says about a process: its children, descriptors and memory, to find leaks.

/** Direct children of a process, from every one of its threads. */
export function childPids (pid: number = process.pid): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
    try {
      return readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter((s) => s !== '').map(Number)
    } catch {
      return [] // the thread ended meanwhile
    }
  })
}

/** A process's command line, [] once it is gone. */
export function cmdline (pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1)
  } catch {
    return []
  }
}

/** Direct children of a process that are the loaders of sessions (not `--list-plans` runs, not the hub keeper). */
export function loaderChildren (pid: number = process.pid): number[] {
  return childPids(pid).filter((child) => {
    const argv = cmdline(child)
    return argv[0]?.endsWith('udplat-probe') === true && argv.includes('bin') && !argv.includes('--keep-hub')
  })
}

export function fdCount (pid: number = process.pid): number {
  return readdirSync(`/proc/${pid}/fd`).length
}

export function rssBytes (pid: number = process.pid): number {
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return Number(kib) * 1024
}

export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`

/** The kernel stack a process sleeps in (`pipe_write`…), '' once it is gone. */
export function kernelStack (pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stack`, 'utf8')
  } catch {
    return ''
  }
}

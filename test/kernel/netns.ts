import { execFileSync } from 'node:child_process'
import { statSync } from 'node:fs'

/**
 * A network namespace joined to the host by a veth pair, for traffic that
 * crosses a real device. Addresses come from the benchmarking ranges
 * (198.18.0.0/15, 2001:2::/48): they exist only on these two ends.
 */
export interface Netns {
  name: string
  /** The host's end of the veth pair. */
  hostIf: string
  hostV4: string
  nsV4: string
  hostV6: string
  nsV6: string
  /** The namespace's inode, as udplat's netns filter takes it. */
  inode: number
  /** Argument vector prefix that runs a command inside the namespace. */
  exec: string[]
  remove: () => void
}

const ip = (...args: string[]): void => { execFileSync('ip', args, { stdio: 'pipe' }) }

export function createNetns (): Netns {
  const tag = `${process.pid % 100000}`
  const name = `udplat-t${tag}`
  const hostIf = `ulh${tag}`
  const nsIf = `uln${tag}`
  ip('netns', 'add', name)
  try {
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf)
    ip('link', 'set', nsIf, 'netns', name)
    ip('addr', 'add', '198.18.0.1/30', 'dev', hostIf)
    ip('-6', 'addr', 'add', '2001:2::1/64', 'dev', hostIf, 'nodad')
    ip('link', 'set', hostIf, 'up')
    ip('-n', name, 'addr', 'add', '198.18.0.2/30', 'dev', nsIf)
    ip('-n', name, '-6', 'addr', 'add', '2001:2::2/64', 'dev', nsIf, 'nodad')
    ip('-n', name, 'link', 'set', nsIf, 'up')
    ip('-n', name, 'link', 'set', 'lo', 'up')
  } catch (err) {
    ip('netns', 'del', name)
    throw err
  }
  return {
    name,
    hostIf,
    hostV4: '198.18.0.1',
    nsV4: '198.18.0.2',
    hostV6: '2001:2::1',
    nsV6: '2001:2::2',
    inode: statSync(`/run/netns/${name}`).ino,
    exec: ['ip', 'netns', 'exec', name],
    remove: () => {
      try { ip('link', 'del', hostIf) } catch { /* gone with the namespace */ }
      ip('netns', 'del', name)
    }
  }
}

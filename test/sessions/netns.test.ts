import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, statSync, writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { checkNetns } from '../../src/sessions/netns.js'
import { installTree, unitService, type InstalledTree } from '../deploy/tree.js'
import { FAKE_PROBE, fakeProbeEnv } from '../helpers/app.js'

// The netns filter's check against namespaces made for it: one bound to a path (as `ip netns add` binds it), one
// held only by a process of root, one that does not exist; in this process (root), and in the service as it is
// deployed, an unprivileged user with no capability.

const OWN = statSync('/proc/self/ns/net').ino
const NAME = `udplat-netns-${process.pid}`
/** No network namespace has inode 1: the kernel numbers them from 0xEFFFFFF9 up. */
const NONE = 1
let bound: number
let held: ChildProcess
let heldInode: number

beforeAll(async () => {
  execFileSync('ip', ['netns', 'add', NAME])
  bound = statSync(`/run/netns/${NAME}`).ino
  held = spawn('unshare', ['--net', 'sleep', '60'], { stdio: 'ignore' })
  heldInode = await vi.waitFor(() => {
    const inode = statSync(`/proc/${held.pid}/ns/net`).ino
    expect(inode).not.toBe(OWN)
    return inode
  })
})

afterAll(() => {
  held?.kill()
  execFileSync('ip', ['netns', 'delete', NAME])
})

describe('checkNetns, as root', () => {
  it('finds its own namespace, one bound to a path and one a process holds', async () => {
    for (const inode of [OWN, bound, heldInode]) await expect(checkNetns(inode)).resolves.toBeUndefined()
  })

  it('refuses an inode no namespace has, saying what it looked at', async () => {
    await expect(checkNetns(NONE)).rejects.toThrow(/^body\/filter\/netns: no network namespace this service can see has inode 1\. .* \(\d+ of \d+\)/)
  })
})

describe('the netns filter, from the service run as an unprivileged user', () => {
  let tree: InstalledTree
  beforeAll(() => { tree = installTree([], 'n') })
  afterAll(() => tree?.remove())

  it('takes its own namespace and a bound one, and refuses one only root\'s process holds with the way to bind it', async () => {
    // The service as the unit starts it, from a tree its user can read (a checkout may not be), with the fake loader.
    const service = unitService(tree)
    const probe = `${tree.root}/fake-probe.sh`
    copyFileSync(FAKE_PROBE, `${tree.root}/fake-probe.mjs`)
    const settings = Object.entries(fakeProbeEnv('run')).map(([name, value]) => `${name}=${value}`).join(' ')
    writeFileSync(probe, `#!/bin/sh\nexec env ${settings} '${process.execPath}' '${tree.root}/fake-probe.mjs' "$@"\n`, { mode: 0o755 })
    const child = spawn(service.file, service.args, {
      env: { PATH: process.env.PATH, UDPLAT_HOST: '127.0.0.1', UDPLAT_PORT: '0', UDPLAT_PROBE: probe, UDPLAT_LOG_LEVEL: 'info' }
    })
    try {
      const base = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).on('line', (line) => {
          const url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1]
          if (url !== undefined) resolve(url)
        })
        child.once('close', (code) => reject(new Error(`the service exited with code ${code}`)))
      })
      const create = async (netns: number) => {
        const res = await fetch(`${base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ filter: { netns } }) })
        return { status: res.status, body: await res.json() as { detail?: string } }
      }
      expect((await create(OWN)).status).toBe(201)
      expect((await create(bound)).status).toBe(201)
      for (const inode of [heldInode, NONE]) {
        const refused = await create(inode)
        expect(refused.status).toBe(400)
        expect(refused.body.detail).toContain(`has inode ${inode}`)
        expect(refused.body.detail).toContain('bind it to a path: ip netns attach NAME PID')
      }
      const sessions = await (await fetch(`${base}/v1/sessions`)).json() as { sessions: Array<{ filter: { netns: number } }> }
      expect(sessions.sessions.map(({ filter }) => filter.netns).sort()).toEqual([OWN, bound].sort())
    } finally {
      // As at any SIGTERM, the service stops its loaders and its hub before it exits.
      const exited = child.exitCode !== null || child.signalCode !== null ? undefined : new Promise((resolve) => child.once('close', resolve))
      child.kill()
      await exited
    }
  })
})

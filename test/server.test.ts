import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { copyFileSync, cpSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { alive, FAKE_PROBE, fakeProbeCommand } from './helpers/app.js'
import { parseFrames } from './helpers/sse.js'

// The built service as it runs in production: `node dist/server.js`, configured by its environment.
const ROOT = fileURLToPath(new URL('..', import.meta.url))
let SERVER = join(ROOT, 'dist/server.js')

function newestMtimeMs (dir: string, suffix: string): number {
  return Math.max(0, ...readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith(suffix))
    .map((file) => statSync(join(dir, file)).mtimeMs))
}

// dist/ is what scripts/setup builds. When src/ changed since, build a private copy rather than
// rewrite dist/ under tests that install it.
beforeAll(() => {
  if (newestMtimeMs(join(ROOT, 'src'), '.ts') <= newestMtimeMs(join(ROOT, 'dist'), '.js')) return
  const copy = mkdtempSync(join(tmpdir(), 'udplat-server-'))
  execFileSync('npx', ['tsc', '-p', ROOT, '--outDir', join(copy, 'dist')], { cwd: ROOT })
  // As `npm run build` does: the page's files beside the compiled service.
  cpSync(join(ROOT, 'src/ui'), join(copy, 'dist/ui'), { recursive: true })
  copyFileSync(join(ROOT, 'package.json'), join(copy, 'package.json'))
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'))
  SERVER = join(copy, 'dist/server.js')
  return () => rmSync(copy, { recursive: true, force: true })
}, 60_000)

interface Server {
  child: ChildProcessWithoutNullStreams
  base: string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** Starts dist/server.js on an ephemeral port and finds the port in its log. */
async function startServer (env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, [SERVER], {
    env: { PATH: process.env.PATH, UDPLAT_PORT: '0', UDPLAT_PROBE: FAKE_PROBE, UDPLAT_LOG_LEVEL: 'info', ...env }
  })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })))
  const base = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(JSON.parse(line).msg ?? '')?.[1]
      if (url !== undefined) resolve(url)
    })
    void exited.then(({ code }) => reject(new Error(`the server exited with code ${code} before listening`)))
  })
  return { child, base, exited }
}

describe('node dist/server.js', () => {
  it('at SIGTERM stops every loader, SIGKILL for one that ignores SIGTERM, ends event streams, and exits 0 within 5 s', async () => {
    const server = await startServer({ UDPLAT_PROBE: fakeProbeCommand('ignore-term', { events: 2 }) })
    try {
      const created = await Promise.all([1, 2].map(async () => await (await fetch(`${server.base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json() as { id: string }))
      // The two sessions' loaders, and the keeper of the warm hub.
      const loaders = execFileSync('pgrep', ['-P', String(server.child.pid)], { encoding: 'utf8' }).trim().split('\n').map(Number)
      expect(loaders).toHaveLength(3)
      const stream = await fetch(`${server.base}/v1/sessions/${created[0]!.id}/events/stream`)
      const body = stream.text()

      const started = Date.now()
      server.child.kill('SIGTERM')
      expect(await server.exited).toEqual({ code: 0, signal: null })
      expect(Date.now() - started).toBeLessThan(5000)
      for (const pid of loaders) expect(alive(pid)).toBe(false)
      const frames = parseFrames(await body)
      expect(frames.map((frame) => frame.id ?? frame.data.state)).toEqual(['running', '1', '2', 'stopping', 'stopped'])
    } finally {
      server.child.kill('SIGKILL')
    }
  }, 15_000)

  it('refuses to listen beyond loopback without a token', async () => {
    const child = spawn(process.execPath, [SERVER], { env: { PATH: process.env.PATH, UDPLAT_HOST: '0.0.0.0' } })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    const code = await new Promise((resolve) => child.on('close', resolve))
    expect(code).toBe(2)
    expect(stderr).toBe('udplat: refusing to listen on 0.0.0.0 without a token: set UDPLAT_TOKEN or UDPLAT_TOKEN_FILE\n')
  })

  it('serves beyond loopback with a token, requiring it on /v1 but not on health', async () => {
    const token = 'correct-horse-battery-staple'
    const server = await startServer({ UDPLAT_HOST: '0.0.0.0', UDPLAT_TOKEN: token })
    try {
      expect((await fetch(`${server.base}/healthz`)).status).toBe(200)
      expect((await fetch(`${server.base}/v1/sessions`)).status).toBe(401)
      expect((await fetch(`${server.base}/v1/sessions`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    } finally {
      server.child.kill('SIGTERM')
      await vi.waitFor(async () => expect(await server.exited).toMatchObject({ code: 0 }))
    }
  })
})

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { PROBE, ROOT } from '../kernel/workload.js'

// The service over the real loader, in this process or as a process of its own.

export interface Api {
  base: string
  /** One JSON request; the parsed body, if any. */
  call: (method: string, path: string, body?: unknown) => Promise<{ status: number, json: any }>
}

/** Requests to the service at base, with the bearer token when it has one. */
export function api (base: string, token?: string): Api {
  const auth: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` }
  return {
    base,
    call: async (method, path, body) => {
      const res = await fetch(base + path, {
        method,
        headers: body === undefined ? auth : { ...auth, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body)
      })
      const text = await res.text()
      return { status: res.status, json: text === '' ? undefined : JSON.parse(text) }
    }
  }
}

/** The app on an ephemeral loopback port, driving the real loader. */
export async function listeningService (overrides: Partial<Config> = {}): Promise<{ app: FastifyInstance } & Api> {
  const app = buildApp({ ...loadConfig([], {}), probePath: PROBE, ...overrides })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('not listening on a port')
  return { app, ...api(`http://127.0.0.1:${address.port}`) }
}

/** src/server.ts as a process of its own (through tsx, so it is the source under test), on an ephemeral port. */
export async function serviceProcess (env: Record<string, string> = {}): Promise<{ child: ChildProcessWithoutNullStreams } & Api> {
  const child = spawn(process.execPath, ['--import', 'tsx', `${ROOT}src/server.ts`], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, UDPLAT_PORT: '0', UDPLAT_PROBE: PROBE, UDPLAT_LOG_LEVEL: 'info', ...env }
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const base = await new Promise<string>((resolve, reject) => {
    // Fastify logs "Server listening at <url>": the only place the ephemeral port shows.
    createInterface({ input: child.stdout }).on('line', (line) => {
      const url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1]
      if (url !== undefined) resolve(url)
    })
    child.once('close', (code) => reject(new Error(`the service exited with code ${code} before listening: ${stderr}`)))
  })
  return { child, ...api(base, env.UDPLAT_TOKEN) }
}

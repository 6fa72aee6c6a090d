import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, vi } from 'vitest'
import { freePort } from '../helpers/ports.js'

/** One series of an instant query's answer. */
export interface Sample { metric: Record<string, string>, value: [number, string] }

export interface Prometheus {
  /** GET /api/v1/query: the instant vector (an error when the query does not parse). */
  query: (expr: string) => Promise<Sample[]>
  /** GET /api/v1/series: the label sets of the series matching `match` that have samples since `startS`. */
  series: (match: string, startS: number) => Promise<Array<Record<string, string>>>
  /** When the target was last scraped, in seconds since the epoch. */
  lastScrapeS: () => Promise<number>
  stop: () => Promise<void>
}

/** The scrape interval: short, so that a test sees a change within a few seconds. */
export const SCRAPE_S = 1

/** Debian's prometheus on loopback, scraping `target` (HOST:PORT) every second, in a directory of its own. */
export async function startPrometheus (target: string): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'udplat-prometheus-'))
  writeFileSync(join(dir, 'prometheus.yml'), [
    'global:',
    `  scrape_interval: ${SCRAPE_S}s`,
    `  scrape_timeout: ${SCRAPE_S}s`,
    'scrape_configs:',
    '  - job_name: udplat',
    '    static_configs:',
    `      - targets: ['${target}']`,
    ''
  ].join('\n'))
  const base = `http://127.0.0.1:${await freePort()}`
  const child = spawn('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=${new URL(base).host}`,
    '--log.level=warn'
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))

  const api = async (path: string, params: Record<string, string>): Promise<any> => {
    const answer = await (await fetch(`${base}${path}?${new URLSearchParams(params)}`)).json() as { status: string, data: any, error?: string }
    if (answer.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${answer.error}`)
    return answer.data
  }
  const prometheus: Prometheus = {
    query: async (expr) => (await api('/api/v1/query', { query: expr })).result,
    series: async (match, startS) => await api('/api/v1/series', { 'match[]': match, start: String(startS) }),
    lastScrapeS: async () => Number((await prometheus.query(`timestamp(up{instance="${target}"})`))[0]?.value[1] ?? 0),
    stop: async () => {
      child.kill('SIGTERM')
      await exited
      rmSync(dir, { recursive: true, force: true })
    }
  }
  try {
    await vi.waitFor(async () => {
      expect(child.exitCode, stderr).toBeNull()
      expect(await prometheus.query(`up{instance="${target}"} == 1`)).toHaveLength(1)
    }, { timeout: 60_000, interval: 200 })
  } catch (err) {
    await prometheus.stop()
    throw err
  }
  return prometheus
}

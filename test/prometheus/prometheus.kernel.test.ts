import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { startTraffic, type Traffic } from '../helpers/traffic.js'
import { PROBE, ROOT } from '../kernel/workload.js'
import { SCRAPE_S, startPrometheus, type Prometheus } from './prometheus.js'

// Debian's Prometheus scraping the service with the real loader: the exposition is clean, its stage histograms give
// the quantiles the service gives, the Grafana dashboard's queries all answer, and a deleted session's series go.
const SLOW = 100
const DROPPED = 40

let app: FastifyInstance
let target: string
let prometheus: Prometheus
let traffic: Traffic
let id: string
let histogram: { matched: number, stages: Record<string, StageHistogram> }
let countedS: number

interface StageHistogram {
  measured: boolean
  count: number
  buckets: Array<{ fromNs: number, toNs: number | null, count: number }>
  p99Ns: number | null
}

const service = async (path: string, init?: RequestInit): Promise<any> => await (await fetch(`http://${target}${path}`, init)).json()

beforeAll(async () => {
  app = buildApp({ ...loadConfig([], {}), probePath: PROBE })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  target = `127.0.0.1:${address.port}`
  prometheus = await startPrometheus(target)

  // A reader 1 ms behind spreads the waits of a burst over 0 to 100 ms: seven log2 buckets.
  traffic = await startTraffic(SLOW, 1)
  id = (await service('/v1/sessions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ filter: { ports: traffic.ports }, thresholdUs: 5000 })
  })).id
  // Let a scrape see the session before its traffic, so that rates over any window reaching back have two samples.
  const createdS = Date.now() / 1000
  await vi.waitFor(async () => expect(await prometheus.lastScrapeS()).toBeGreaterThan(createdS + SCRAPE_S), { timeout: 10_000, interval: 200 })
  await traffic.slow(SLOW)
  await traffic.dropped(DROPPED)
  histogram = await vi.waitFor(async () => {
    const now = await service(`/v1/sessions/${id}/histogram`)
    expect(now.matched).toBe(SLOW)
    return now
  }, { timeout: 10_000, interval: 200 })
  const { counts } = await service(`/v1/sessions/${id}`)
  expect(counts.drops).toBeGreaterThan(DROPPED / 2)
  countedS = Date.now() / 1000
})

afterAll(async () => {
  await traffic?.stop()
  await prometheus?.stop()
  await app?.close()
})

const measuredStages = () => Object.entries(histogram.stages).filter(([, stage]) => stage.measured)

/**
 * Prometheus's histogram_quantile over one series' cumulative buckets, +Inf last (promql/quantile.go, bucketQuantile):
 * the first bucket holding rank q × count, linearly interpolated between its bounds.
 */
function bucketQuantile (q: number, buckets: Array<[le: number, count: number]>): number {
  const total = buckets[buckets.length - 1]![1]
  const rank = q * total
  const b = buckets.findIndex(([, count], i) => i === buckets.length - 1 || count >= rank)
  if (b === buckets.length - 1) return buckets[buckets.length - 2]![0]
  const [start, below] = b === 0 ? [0, 0] : buckets[b - 1]!
  const [end, count] = buckets[b]!
  return start + (end - start) * ((rank - below) / (count - below))
}

describe('Prometheus scraping udplat', () => {
  it('finds nothing to say about /metrics (promtool check metrics)', async () => {
    const exposition = await (await fetch(`http://${target}/metrics`)).text()
    expect(exposition).toContain(`udplat_session_stage_seconds_bucket{session="${id}",stage="queue"`)
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' })
    expect({ status: lint.status, output: lint.stdout + lint.stderr }).toEqual({ status: 0, output: '' })
  })

  it('stores each stage histogram exactly, and histogram_quantile(0.99) lands in the bucket of the service\'s p99', async () => {
    // Prometheus's `le` bounds are every other power of two, so each of its buckets is two of the service's log2
    // buckets, and histogram_quantile interpolates inside it: what must agree is the bucket, not the value. The
    // stored counts must be the service's exactly, and the quantile exactly what Prometheus computes from them.
    for (const [stage, { count, buckets, p99Ns }] of measuredStages()) {
      const selector = `udplat_session_stage_seconds_bucket{session="${id}",stage="${stage}"}`
      const stored = await vi.waitFor(async () => {
        const series = await prometheus.query(selector)
        expect(Number(series.find(({ metric }) => metric.le === '+Inf')?.value[1])).toBe(count)
        return series
      }, { timeout: 10_000, interval: 200 })
      const cumulative = stored.map(({ metric, value }) => [metric.le === '+Inf' ? Infinity : Number(metric.le), Number(value[1])] as [number, number])
        .sort(([a], [b]) => a - b)
      for (const [le, stored] of cumulative) {
        const below = buckets.filter(({ toNs }) => toNs !== null && toNs <= Math.round(le * 1e9)).reduce((sum, bucket) => sum + bucket.count, 0)
        expect({ stage, le, stored }).toEqual({ stage, le, stored: le === Infinity ? count : below })
      }

      const [quantile] = await prometheus.query(`histogram_quantile(0.99, ${selector})`)
      const promP99 = Number(quantile!.value[1])
      expect(promP99).toBeCloseTo(bucketQuantile(0.99, cumulative), 12)
      const bucket = cumulative.findIndex(([le]) => promP99 <= le)
      const [lower, upper] = [cumulative[bucket - 1]?.[0] ?? 0, cumulative[bucket]![0]]
      const inBucket = `${stage}: the service's p99 in Prometheus's bucket (${lower}, ${upper}]`
      expect(p99Ns! / 1e9, inBucket).toBeGreaterThan(lower)
      expect(p99Ns! / 1e9, inBucket).toBeLessThanOrEqual(upper)
    }
  })

  it('answers every query of deploy/grafana-dashboard.json with data, and its variables with this session', async () => {
    const dashboard = JSON.parse(readFileSync(`${ROOT}deploy/grafana-dashboard.json`, 'utf8'))
    // A rate needs two samples: series that appeared with the traffic (drops by reason) need two scrapes after it.
    await vi.waitFor(async () => expect(await prometheus.lastScrapeS()).toBeGreaterThan(countedS + 2 * SCRAPE_S), { timeout: 10_000, interval: 200 })
    const stages = measuredStages().map(([stage]) => stage)
    const values: Record<string, string> = { instance: target, session: id, __rate_interval: '1m' }
    const substitute = (expr: string, more: Record<string, string> = {}) =>
      expr.replace(/\$(\w+)/g, (whole, name: string) => ({ ...values, ...more })[name] ?? whole)

    for (const variable of dashboard.templating.list.filter((v: { type: string }) => v.type === 'query')) {
      const [, match, label] = /^label_values\((.+), *(\w+)\)$/.exec(variable.query.query)!
      const found = (await prometheus.series(substitute(match!), Date.now() / 1000 - 60)).map((labels) => labels[label!])
      expect({ variable: variable.name, found: [...new Set(found)].sort() }).toEqual({
        variable: variable.name,
        found: expect.arrayContaining(variable.name === 'stage' ? stages : [variable.name === 'instance' ? target : id])
      })
    }

    const panels = dashboard.panels.flatMap((panel: { panels?: unknown[] }) => [panel, ...(panel.panels ?? [])])
    const queries = panels.flatMap((panel: { title: string, repeat?: string, targets?: Array<{ expr: string }> }) =>
      (panel.targets ?? []).flatMap(({ expr }) => panel.repeat === 'stage'
        ? stages.map((stage) => [`${panel.title} (${stage})`, substitute(expr, { stage })])
        : [[panel.title, substitute(expr)]]))
    expect(queries.length).toBeGreaterThanOrEqual(12)
    for (const [title, expr] of queries) {
      expect(expr, title).not.toContain('$')
      const samples = await prometheus.query(expr)
      expect(samples.some(({ value }) => Number.isFinite(Number(value[1]))), `${title}: ${expr} answered ${JSON.stringify(samples)}`).toBe(true)
    }
  })

  it('drops a deleted session\'s series from the next scrapes', async () => {
    const ofSession = `{session="${id}"}`
    expect((await prometheus.query(ofSession)).length).toBeGreaterThan(10)
    expect((await fetch(`http://${target}/v1/sessions/${id}`, { method: 'DELETE' })).status).toBe(204)
    const deletedS = Date.now() / 1000
    // Two scrapes: the first after the deletion marks the series stale, the last has none of them.
    const lastS = await vi.waitFor(async () => {
      const scrapedS = await prometheus.lastScrapeS()
      expect(scrapedS).toBeGreaterThan(deletedS + 2 * SCRAPE_S)
      return scrapedS
    }, { timeout: 10_000, interval: 200 })

    expect(await prometheus.query(ofSession)).toEqual([])
    expect(await prometheus.query(`count_over_time(${ofSession}[${SCRAPE_S}s])`)).toEqual([])
    expect(await prometheus.series(ofSession, lastS - SCRAPE_S / 2)).toEqual([])
    // The scrapes themselves went on: the service's own series are there.
    expect(await prometheus.query(`udplat_sessions{instance="${target}",state="running"} == 0`)).toHaveLength(1)
  })
})

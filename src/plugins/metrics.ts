import fp from 'fastify-plugin'
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client'
import { SESSION_STATES } from '../schemas/session.js'
import type { Session } from '../sessions/session.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry
  }
}

/** Stage histogram bounds: every other power of two from 256 ns to 68.7 s, which the kernel's log2 slots give exactly. */
const LE_POWERS = Array.from({ length: 15 }, (_, i) => 8 + 2 * i)

/**
 * Prometheus metrics as `app.metrics`, computed from the sessions at each scrape: a deleted or
 * removed session's series are gone at the next one, so the `session` label takes at most
 * UDPLAT_MAX_SESSIONS values plus the ended sessions still kept (UDPLAT_MAX_ENDED_SESSIONS). An
 * ended session keeps its counters, not its stage histograms: those are most of a session's series,
 * and Prometheus holds them from the scrapes while it ran.
 */
export default fp(async (app) => {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  // Gauges must not end in _total (promtool check metrics); each is the sum of its namesake's series by type.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name)
  const sessions = () => app.sessions.list()
  const registers = [registry]

  /** A counter or gauge with a `session` label, set from every kept session at each scrape. */
  const perSession = (
    Kind: typeof Counter | typeof Gauge,
    name: string,
    help: string,
    labelNames: string[],
    values: (session: Session) => Array<[Record<string, string>, number]>
  ) => new Kind({
    name,
    help,
    labelNames: ['session', ...labelNames],
    registers,
    collect (this: Counter | Gauge) {
      this.reset()
      for (const session of sessions()) {
        for (const [labels, value] of values(session)) {
          if (this instanceof Counter) this.inc({ session: session.id, ...labels }, value)
          else this.set({ session: session.id, ...labels }, value)
        }
      }
    }
  })

  registry.registerMetric(new Gauge({
    name: 'udplat_sessions',
    help: 'Kept sessions by state',
    labelNames: ['state'],
    // In this registry alone: without `registers`, prom-client would put it in its global one.
    registers: [],
    collect () {
      const all = sessions()
      for (const state of SESSION_STATES) this.set({ state }, all.filter((session) => session.state === state).length)
    }
  }))
  perSession(Counter, 'udplat_session_datagrams_total', 'Datagrams read or sent that passed the session\'s filter (kernel)', [],
    (session) => [[{}, session.stats?.matched ?? 0]])
  perSession(Counter, 'udplat_session_slow_total', 'Of those, at or over the session\'s threshold (kernel)', [],
    (session) => [[{}, session.stats?.slow ?? 0]])
  perSession(Counter, 'udplat_session_events_total', 'Events the service buffered, by type', ['type'],
    (session) => Object.entries(session.eventCounts).map(([type, n]) => [{ type }, n]))
  perSession(Counter, 'udplat_session_lost_events_total',
    'Events lost, by where: kernel (ring buffer full, slow datagrams), kernel_drops (ring buffer full, drops), buffer (evicted from the service buffer), stream (skipped by event streams that read too slowly, summed over them)',
    ['where'], (session) => [
      [{ where: 'kernel' }, session.stats?.kernelLost ?? 0],
      [{ where: 'kernel_drops' }, session.stats?.dropsLost ?? 0],
      [{ where: 'buffer' }, session.events.evicted],
      [{ where: 'stream' }, session.streams.lost]
    ])
  perSession(Counter, 'udplat_session_drops_total', 'Dropped datagrams that passed the session\'s filter, by kernel drop reason', ['reason'],
    (session) => Object.entries(session.dropsByReason).map(([reason, n]) => [{ reason }, n]))
  perSession(Gauge, 'udplat_session_streams', 'Open event streams', [], (session) => [[{}, session.streams.open]])

  perSession(Counter, 'udplat_session_reader_verdicts_total', 'Slow datagrams by what their reader mostly did while they waited: busy, runqueue, blocked, or unknown', ['verdict'],
    (session) => session.spec.reader ? Object.entries(session.readerVerdicts).map(([verdict, n]) => [{ verdict }, n]) : [])

  /** A histogram of active sessions' log2 slots, one series per `label` value, at every other power of two (no _sum: the kernel keeps none). */
  const log2Histogram = (name: string, help: string, label: string, series: (session: Session) => Array<[string, readonly number[]]>) =>
    registry.registerMetric({
      name,
      help,
      type: 'histogram',
      get: async () => ({
        name,
        help,
        type: 'histogram',
        aggregator: 'sum',
        values: sessions().filter((session) => session.active).flatMap((session) => series(session).flatMap(([value, slots]) => {
          const labels = { session: session.id, [label]: value }
          let below = 0
          let slot = 0
          const buckets = LE_POWERS.map((power) => {
            while (slot <= power && slot < slots.length) below += slots[slot++] ?? 0
            return { metricName: `${name}_bucket`, labels: { ...labels, le: String(2 ** power / 1e9) }, value: below }
          })
          const count = slots.reduce((sum, n) => sum + n, 0)
          return [
            ...buckets,
            { metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: count },
            { metricName: `${name}_count`, labels, value: count }
          ]
        }))
      })
    } as unknown as Metric)

  log2Histogram('udplat_session_stage_seconds',
    'Per-stage latency over every matching datagram, from the kernel\'s log2 histograms (no _sum: the kernel keeps none), while the session is active; stages the plan does not measure are absent',
    'stage', (session) => session.stageSlots)
  log2Histogram('udplat_session_reader_seconds',
    'What the reading thread did while each matching datagram waited in the queue, by state (onCpu, runqueue, offCpu), while the session is active and takes it',
    'state', (session) => session.readerSlots)

  app.decorate('metrics', registry)
}, { name: 'metrics', dependencies: ['sessions'] })

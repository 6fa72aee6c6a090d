import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { LoaderUnavailable, problemResponses } from '../../errors.js'
import { MAX_WAIT_MS } from '../../schemas/event.js'
import { Host } from '../../schemas/host.js'
import { SESSION_BOUNDS } from '../../schemas/session.js'

/** /v1/host: what this host's kernel allows, and the service's limits. */
const hostRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/host', {
    schema: {
      tags: ['host'],
      summary: 'Kernel, BTF, attach plans and limits',
      description: 'From `udplat-probe --list-plans`, reused for a few seconds.',
      response: { 200: Host, ...problemResponses(LoaderUnavailable) }
    }
  }, async () => {
    const host = await app.host.plans(LoaderUnavailable)
    const { sessions, config } = app
    const kept = sessions.list()
    return {
      kernel: host.kernel,
      btf: host.btf,
      autoPlan: host.auto,
      plans: host.plans.map(({ name, available, reason }) => ({ name, available, reason: reason ?? null })),
      limits: {
        maxSessions: config.maxSessions,
        maxBufferedEvents: config.maxBufferedEvents,
        retentionSeconds: config.retentionSeconds,
        maxEndedSessions: config.maxEndedSessions,
        bufferEvents: SESSION_BOUNDS.bufferEvents,
        ttlSeconds: SESSION_BOUNDS.ttlSeconds,
        waitMs: { max: MAX_WAIT_MS }
      },
      hub: { kept: app.hub.kept, ...app.hub.status },
      usage: {
        activeSessions: kept.filter((session) => session.active).length,
        keptSessions: kept.length,
        reservedEvents: sessions.reservedEvents
      }
    }
  })
}

export default hostRoutes

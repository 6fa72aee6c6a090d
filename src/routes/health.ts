import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { NotReady, problemResponses } from '../errors.js'
import type { HostPlans } from '../probe/plans.js'
import type { PlanName } from '../probe/records.js'
import { Nullable } from '../schemas/common.js'
import { Plan } from '../schemas/session.js'

/** The plan a session would get, or NotReady saying why no session could start on this host. */
function readyPlan (host: HostPlans): PlanName {
  if (!host.btf) throw new NotReady(`kernel ${host.kernel} has no BTF (/sys/kernel/btf/vmlinux), which every attach plan needs`)
  if (host.auto === null) {
    throw new NotReady(`no attach plan is available on kernel ${host.kernel}: ${host.plans.map(({ name, reason }) => `${name}: ${reason ?? 'unavailable'}`).join('; ')}`)
  }
  return host.auto
}

/** Liveness and readiness; neither needs a token. */
const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    schema: {
      tags: ['health'],
      summary: 'Liveness: the process serves HTTP',
      response: { 200: Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false }) }
    }
  }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', {
    schema: {
      tags: ['health'],
      summary: 'Readiness: the loader runs, the kernel has BTF and an attach plan, and the hub is warm and answers',
      description: 'From `udplat-probe --list-plans`, reused for a few seconds, and from the hub\'s answers to the pings of its keeper.',
      response: {
        200: Type.Object({
          status: Type.Literal('ready'),
          kernel: Type.String(),
          autoPlan: Plan,
          hubPlan: Nullable({ ...Plan, description: 'The plan of the hub the service keeps warm; null when it keeps none (warmHub off)' })
        }, { additionalProperties: false }),
        ...problemResponses(NotReady)
      }
    }
  }, async () => {
    const host = await app.host.plans(NotReady)
    const autoPlan = readyPlan(host)
    const { kept, status } = app.hub
    if (kept && !status.running) throw new NotReady(status.error ?? 'the hub is not running yet')
    return { status: 'ready' as const, kernel: host.kernel, autoPlan, hubPlan: kept ? status.plan : null }
  })
}

export default healthRoutes

import fp from 'fastify-plugin'
import { listPlans, type HostPlans } from '../probe/plans.js'

declare module 'fastify' {
  interface FastifyInstance {
    host: { plans: () => Promise<HostPlans> }
  }
}

/** `app.host.plans()`: the loader's --list-plans, its answer reused for `hostInfoCacheMs`. */
export default fp(async (app) => {
  const { probePath, hostInfoCacheMs } = app.config
  let cached: { at: number, plans: Promise<HostPlans> } | undefined
  app.decorate('host', {
    plans: async () => {
      if (cached === undefined || Date.now() - cached.at >= hostInfoCacheMs) {
        cached = { at: Date.now(), plans: listPlans(probePath) }
      }
      return await cached.plans
    }
  })
}, { name: 'host', dependencies: ['config'] })

import fp from 'fastify-plugin'
import { listPlans, PlanListError, type HostPlans } from '../probe/plans.js'

declare module 'fastify' {
  interface FastifyInstance {
    host: { plans: (Unavailable: new (reason: string) => Error) => Promise<HostPlans> }
  }
}

/**
 * `app.host.plans(Unavailable)`: the loader's --list-plans, its answer reused for `hostInfoCacheMs`; when the
 * loader cannot tell, an `Unavailable` saying why (each route answers with its own problem).
 */
export default fp(async (app) => {
  const { probePath, loaderEnv, hostInfoCacheMs } = app.config
  let cached: { at: number, plans: Promise<HostPlans> } | undefined
  app.decorate('host', {
    plans: async (Unavailable) => {
      if (cached === undefined || Date.now() - cached.at >= hostInfoCacheMs) {
        cached = { at: Date.now(), plans: listPlans(probePath, loaderEnv) }
      }
      return await cached.plans.catch((err: unknown) => {
        throw err instanceof PlanListError ? new Unavailable(err.message) : err
      })
    }
  })
}, { name: 'host', dependencies: ['config'] })

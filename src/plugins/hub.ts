import fp from 'fastify-plugin'
import { HubKeeper, type HubStatus } from '../probe/hub-keeper.js'

declare module 'fastify' {
  interface FastifyInstance {
    hub: {
      /** Whether the service keeps the hub warm at all (`warmHub`). */
      readonly kept: boolean
      readonly status: HubStatus
      /** Why the hub kept warm is taken for stopped or stuck, while it is: a loader joining it would wait in vain. */
      readonly silence: string | null
    }
  }
}

/** `app.hub`: the host's hub, kept warm from the moment the service is ready until it closes (after its sessions). */
export default fp(async (app) => {
  const { config } = app
  const keeper = new HubKeeper({
    probePath: config.probePath,
    env: config.loaderEnv,
    log: app.log.child({ component: 'hub' }),
    startTimeoutMs: config.loaderStartTimeoutMs,
    stopGraceMs: config.loaderStopGraceMs,
    restartMs: config.hubRestartMs
  })
  app.decorate('hub', {
    kept: config.warmHub,
    get status () { return keeper.status },
    get silence () { return config.warmHub ? keeper.silence : null }
  })
  if (!config.warmHub) return
  app.addHook('onReady', async () => { keeper.start() })
  app.addHook('onClose', async () => { await keeper.stop() })
}, { name: 'hub', dependencies: ['config'] })

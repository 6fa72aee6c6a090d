import fp from 'fastify-plugin'
import { SessionManager } from '../sessions/manager.js'

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionManager
  }
}

/** The session manager as `app.sessions`; closing the app stops every loader. */
export default fp(async (app) => {
  const { config } = app
  const manager = new SessionManager(
    { probePath: config.probePath, startTimeoutMs: config.loaderStartTimeoutMs, stopGraceMs: config.loaderStopGraceMs },
    { maxSessions: config.maxSessions, maxBufferedEvents: config.maxBufferedEvents, retentionSeconds: config.retentionSeconds },
    app.log
  )
  app.decorate('sessions', manager)
  // Before the server waits for open requests: event streams and long polls end once their session has.
  app.addHook('preClose', async () => manager.stopAll())
}, { name: 'sessions', dependencies: ['config'] })

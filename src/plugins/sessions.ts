import fp from 'fastify-plugin'
import { SessionManager } from '../sessions/manager.js'

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionManager
  }
}

/** After every loader has stopped, how long open responses get to finish before their connections are cut. */
const DRAIN_MS = 500

/** The session manager as `app.sessions`; closing the app stops every loader. */
export default fp(async (app) => {
  const { config } = app
  const manager = new SessionManager(
    {
      probePath: config.probePath,
      env: config.loaderEnv,
      startTimeoutMs: config.loaderStartTimeoutMs,
      stopGraceMs: config.loaderStopGraceMs,
      statsIntervalMs: config.loaderStatsIntervalMs
    },
    {
      maxSessions: config.maxSessions,
      maxBufferedEvents: config.maxBufferedEvents,
      retentionSeconds: config.retentionSeconds,
      maxEndedSessions: config.maxEndedSessions
    },
    app.log
  )
  app.decorate('sessions', manager)
  // Before the server waits for open requests: event streams and long polls end once their session has.
  // A client that stopped reading, or a connection that never sent a request, would still hold the server open.
  app.addHook('preClose', async () => {
    await manager.stopAll()
    const cut = setTimeout(() => app.server.closeAllConnections(), DRAIN_MS).unref()
    app.server.once('close', () => clearTimeout(cut))
  })
}, { name: 'sessions', dependencies: ['config'] })

import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { problemServerOptions } from './errors.js'

/** SIGTERM to exit: every loader gets SIGTERM, then SIGKILL after its grace (3 s), and the process exits within 5 s. */
const SHUTDOWN_MS = 4_500

let config: Config
try {
  config = loadConfig()
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(`udplat: ${err.message}`)
  process.exit(2)
}

const app = buildApp(config, {
  logger: { level: config.logLevel },
  requestTimeout: 30_000,
  return503OnClosing: true,
  ...problemServerOptions
})

closeWithGrace({ delay: SHUTDOWN_MS }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing after an error')
  else app.log.info({ signal }, 'closing: stopping every loader')
  await app.close()
})

// Fastify logs "Server listening at <url>": with UDPLAT_PORT=0 that is how to find the port.
await app.listen({ host: config.host, port: config.port })

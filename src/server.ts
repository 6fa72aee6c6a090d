import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'

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
  return503OnClosing: true
})

// Long enough for every loader to get SIGTERM, its grace period, and SIGKILL.
closeWithGrace({ delay: config.loaderStopGraceMs + 5_000 }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing after an error')
  else app.log.info({ signal }, 'closing: stopping every loader')
  await app.close()
})

await app.listen({ host: config.host, port: config.port })

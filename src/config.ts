import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface Config {
  host: string
  port: number
  /** Bearer token required on /v1; undefined means no authentication (loopback only). */
  token: string | undefined
  probePath: string
  /**
   * The whole environment of every loader, and so of the hub keeper and the hub: PATH alone, so that a loader
   * that is a script finds its interpreter; nothing else of the service's, its token least of all.
   */
  loaderEnv: Readonly<Record<string, string | undefined>>
  maxSessions: number
  maxBufferedEvents: number
  /** How long a session that ended (stopped, expired, failed) stays readable before it is removed. */
  retentionSeconds: number
  /** How many ended sessions are kept at most; past that, the oldest to have ended goes first. */
  maxEndedSessions: number
  logLevel: LogLevel
  /** How long a loader may take to attach its probes and say hello. */
  loaderStartTimeoutMs: number
  /** How long a loader may take to exit after SIGTERM before it gets SIGKILL. */
  loaderStopGraceMs: number
  /** How often a loader sends its counters; one silent for five intervals is taken for stuck and killed. */
  loaderStatsIntervalMs: number
  /** An idle event stream gets a comment this often, so proxies and clients see it alive. */
  heartbeatMs: number
  /** How long `udplat-probe --list-plans` output is reused by /v1/host and /readyz. */
  hostInfoCacheMs: number
  /** Keep the host's hub running for as long as the service runs, so that no session waits for programs to load. */
  warmHub: boolean
  /** How long after the hub keeper (or its hub) went away it is started again. */
  hubRestartMs: number
  /** Who may frame the page at /ui: CSP frame-ancestors sources; undefined means the service's own pages only ('self'). */
  uiFrameAncestors: string | undefined
  /** Host names the service answers for beyond its own (src/plugins/origins.ts); `*.example.com` takes its subdomains. */
  allowedHosts: string[]
  /** Origins of other sites whose pages may call the API (CORS), such as a portal's: scheme://host[:port]. */
  allowedOrigins: string[]
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url))
const MIN_TOKEN_LENGTH = 16

// The token has no flag on purpose: command lines are visible to every user in ps.
const FLAGS = {
  host: { type: 'string' },
  port: { type: 'string' },
  probe: { type: 'string' },
  'max-sessions': { type: 'string' },
  'max-buffered-events': { type: 'string' },
  'retention-seconds': { type: 'string' },
  'max-ended-sessions': { type: 'string' },
  'log-level': { type: 'string' },
  'token-file': { type: 'string' },
  'ui-frame-ancestors': { type: 'string' },
  'allowed-hosts': { type: 'string' },
  'allowed-origins': { type: 'string' }
} as const

/** Builds the one configuration object from CLI flags (which win) and environment variables. */
export function loadConfig (argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Config {
  let flags
  try {
    flags = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false }).values
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
  const setting = (flag: keyof typeof FLAGS, name: string): [string, string | undefined] =>
    flags[flag] !== undefined ? [`--${flag}`, flags[flag]] : [name, env[name]]

  const host = setting('host', 'UDPLAT_HOST')[1] ?? '127.0.0.1'
  const token = readToken(env.UDPLAT_TOKEN, setting('token-file', 'UDPLAT_TOKEN_FILE'))
  if (token === undefined && !isLoopback(host)) {
    throw new ConfigError(`refusing to listen on ${host} without a token: set UDPLAT_TOKEN or UDPLAT_TOKEN_FILE`)
  }
  return {
    host,
    port: integer(setting('port', 'UDPLAT_PORT'), 9470, 0, 65535),
    token,
    probePath: setting('probe', 'UDPLAT_PROBE')[1] ?? `${PACKAGE_ROOT}bpf/build/udplat-probe`,
    loaderEnv: env.PATH === undefined ? {} : { PATH: env.PATH },
    maxSessions: integer(setting('max-sessions', 'UDPLAT_MAX_SESSIONS'), 32, 1, 1024),
    maxBufferedEvents: integer(setting('max-buffered-events', 'UDPLAT_MAX_BUFFERED_EVENTS'), 1_000_000, 100, 100_000_000),
    retentionSeconds: integer(setting('retention-seconds', 'UDPLAT_RETENTION_SECONDS'), 3600, 0, 30 * 24 * 3600),
    maxEndedSessions: integer(setting('max-ended-sessions', 'UDPLAT_MAX_ENDED_SESSIONS'), 100, 0, 10_000),
    logLevel: logLevel(setting('log-level', 'UDPLAT_LOG_LEVEL')),
    loaderStartTimeoutMs: 10_000,
    // Short enough that SIGTERM, the grace and SIGKILL fit in the service's own 5 s to exit.
    loaderStopGraceMs: 3_000,
    loaderStatsIntervalMs: 1_000,
    heartbeatMs: 15_000,
    hostInfoCacheMs: 5_000,
    warmHub: true,
    hubRestartMs: 1_000,
    uiFrameAncestors: frameAncestors(setting('ui-frame-ancestors', 'UDPLAT_UI_FRAME_ANCESTORS')),
    allowedHosts: hostNames(setting('allowed-hosts', 'UDPLAT_ALLOWED_HOSTS')),
    allowedOrigins: origins(setting('allowed-origins', 'UDPLAT_ALLOWED_ORIGINS'))
  }
}

export function isLoopback (host: string): boolean {
  if (host === 'localhost' || host === '::1') return true
  return isIP(host) === 4 && host.startsWith('127.')
}

function integer ([name, raw]: [string, string | undefined], fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`)
  }
  return value
}

function logLevel ([name, raw]: [string, string | undefined]): LogLevel {
  if (raw === undefined || raw === '') return 'info'
  const level = LOG_LEVELS.find((known) => known === raw)
  if (level === undefined) throw new ConfigError(`${name} must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`)
  return level
}

// An origin (scheme://host[:port], a leading *. for subdomains), a scheme, 'self' or 'none': nothing that could end the directive.
const FRAME_ANCESTOR = /^('self'|'none'|https?:|https?:\/\/(\*\.)?([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(:\d{1,5})?)$/i

function frameAncestors ([name, raw]: [string, string | undefined]): string | undefined {
  const sources = raw?.trim().split(/\s+/).filter(Boolean) ?? []
  if (sources.length === 0) return undefined
  const bad = sources.find((source) => !FRAME_ANCESTOR.test(source))
  if (bad !== undefined) {
    throw new ConfigError(`${name} takes space-separated origins such as https://portal.example.com, or 'self', got "${bad}"`)
  }
  return sources.join(' ')
}

/** A list in one setting, separated by spaces or commas. */
const list = (raw: string | undefined): string[] => raw?.split(/[\s,]+/).filter(Boolean) ?? []

const HOST_NAME = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/

function hostNames ([name, raw]: [string, string | undefined]): string[] {
  const names = list(raw).map((host) => host.toLowerCase())
  const bad = names.find((host) => !HOST_NAME.test(host))
  if (bad !== undefined) throw new ConfigError(`${name} takes host names such as udplat.example.net or *.example.net, without a scheme or port, got "${bad}"`)
  return names
}

/** Origins as browsers send them: scheme://host[:port], the port only when not the scheme's own. */
function origins ([name, raw]: [string, string | undefined]): string[] {
  return list(raw).map((origin) => {
    let url: URL | undefined
    try {
      url = new URL(origin)
    } catch {}
    if (url === undefined || !/^https?:$/.test(url.protocol) || url.origin !== origin) {
      throw new ConfigError(`${name} takes origins as browsers send them, such as https://portal.example.com (scheme, host, and a port only when not the scheme's own), got "${origin}"`)
    }
    return origin
  })
}

function readToken (inline: string | undefined, [fileSetting, file]: [string, string | undefined]): string | undefined {
  if (inline && file) throw new ConfigError(`set UDPLAT_TOKEN or ${fileSetting}, not both`)
  let token = inline
  if (file) {
    try {
      token = readFileSync(file, 'utf8').trim()
    } catch (err) {
      throw new ConfigError(`cannot read ${fileSetting} ${file}: ${(err as Error).message}`)
    }
  }
  if (token === undefined || (token === '' && !file)) return undefined
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new ConfigError(`the token must be at least ${MIN_TOKEN_LENGTH} characters without whitespace`)
  }
  return token
}

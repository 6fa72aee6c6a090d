import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { ConfigError, isLoopback, loadConfig } from '../src/config.js'

const TOKEN = 'correct-horse-battery-staple'

describe('loadConfig', () => {
  it('defaults to serving loopback with the loader built in bpf/', () => {
    expect(loadConfig([], {})).toEqual({
      host: '127.0.0.1',
      port: 9470,
      token: undefined,
      probePath: fileURLToPath(new URL('../bpf/build/udplat-probe', import.meta.url)),
      loaderEnv: {},
      maxSessions: 32,
      maxBufferedEvents: 1_000_000,
      retentionSeconds: 3600,
      maxEndedSessions: 100,
      logLevel: 'info',
      loaderStartTimeoutMs: 10_000,
      loaderStopGraceMs: 3_000,
      loaderStatsIntervalMs: 1_000,
      heartbeatMs: 15_000,
      hostInfoCacheMs: 5_000,
      warmHub: true,
      hubRestartMs: 1_000,
      allowedHosts: [],
      allowedOrigins: []
    })
  })

  it('gives the loaders PATH alone of its environment: nothing else of the service\'s, its token least of all', () => {
    expect(loadConfig([], { PATH: '/usr/bin:/bin', UDPLAT_TOKEN: TOKEN, HOME: '/root', AWS_SECRET_ACCESS_KEY: 'x' }).loaderEnv)
      .toEqual({ PATH: '/usr/bin:/bin' })
  })

  it('reads the environment', () => {
    expect(loadConfig([], {
      UDPLAT_HOST: '::1',
      UDPLAT_PORT: '0',
      UDPLAT_PROBE: '/opt/udplat-probe',
      UDPLAT_MAX_SESSIONS: '4',
      UDPLAT_MAX_BUFFERED_EVENTS: '5000',
      UDPLAT_RETENTION_SECONDS: '0',
      UDPLAT_MAX_ENDED_SESSIONS: '7',
      UDPLAT_LOG_LEVEL: 'debug',
      UDPLAT_TOKEN: TOKEN
    })).toMatchObject({ host: '::1', port: 0, probePath: '/opt/udplat-probe', maxSessions: 4, maxBufferedEvents: 5000, retentionSeconds: 0, maxEndedSessions: 7, logLevel: 'debug', token: TOKEN })
  })

  it('lets flags override the environment', () => {
    const config = loadConfig(['--port', '8080', '--max-sessions=2', '--log-level', 'warn', '--retention-seconds', '60', '--max-ended-sessions', '0'],
      { UDPLAT_PORT: '9000', UDPLAT_MAX_SESSIONS: '8', UDPLAT_RETENTION_SECONDS: '5', UDPLAT_MAX_ENDED_SESSIONS: '9' })
    expect(config).toMatchObject({ port: 8080, maxSessions: 2, logLevel: 'warn', retentionSeconds: 60, maxEndedSessions: 0 })
  })

  it('reads the token from a file, trimmed', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'udplat-config-')), 'token')
    writeFileSync(file, `${TOKEN}\n`)
    expect(loadConfig(['--token-file', file], {}).token).toBe(TOKEN)
    expect(loadConfig([], { UDPLAT_TOKEN_FILE: file }).token).toBe(TOKEN)
  })

  it.each([
    [[], { UDPLAT_PORT: '65536' }, 'UDPLAT_PORT must be an integer from 0 to 65535, got "65536"'],
    [['--port', '80a'], {}, '--port must be an integer from 0 to 65535, got "80a"'],
    [[], { UDPLAT_MAX_SESSIONS: '0' }, 'UDPLAT_MAX_SESSIONS must be an integer from 1'],
    [[], { UDPLAT_MAX_BUFFERED_EVENTS: '-5' }, 'UDPLAT_MAX_BUFFERED_EVENTS must be an integer'],
    [[], { UDPLAT_LOG_LEVEL: 'loud' }, 'UDPLAT_LOG_LEVEL must be one of'],
    [[], { UDPLAT_RETENTION_SECONDS: '2592001' }, 'UDPLAT_RETENTION_SECONDS must be an integer from 0 to 2592000'],
    [['--verbose'], {}, "Unknown option '--verbose'"],
    [[], { UDPLAT_HOST: '0.0.0.0' }, 'refusing to listen on 0.0.0.0 without a token'],
    [[], { UDPLAT_TOKEN: 'short' }, 'the token must be at least 16 characters'],
    [[], { UDPLAT_TOKEN: TOKEN, UDPLAT_TOKEN_FILE: '/x' }, 'set UDPLAT_TOKEN or UDPLAT_TOKEN_FILE, not both'],
    [[], { UDPLAT_TOKEN_FILE: '/nonexistent/token' }, 'cannot read UDPLAT_TOKEN_FILE /nonexistent/token']
  ])('rejects %j %j', (argv, env, message) => {
    expect(() => loadConfig(argv, env)).toThrow(ConfigError)
    expect(() => loadConfig(argv, env)).toThrow(message)
  })

  it('listens beyond loopback with a token', () => {
    expect(loadConfig([], { UDPLAT_HOST: '0.0.0.0', UDPLAT_TOKEN: TOKEN }).host).toBe('0.0.0.0')
  })
})

describe('UDPLAT_ALLOWED_HOSTS and UDPLAT_ALLOWED_ORIGINS', () => {
  it('take lists separated by spaces or commas, from the environment or the flag, which wins', () => {
    expect(loadConfig([], { UDPLAT_ALLOWED_HOSTS: ' udplat.example.net,*.Corp.example  10.0.0.5 ', UDPLAT_ALLOWED_ORIGINS: 'https://portal.example.com, http://[::1]:3000' }))
      .toMatchObject({ allowedHosts: ['udplat.example.net', '*.corp.example', '10.0.0.5'], allowedOrigins: ['https://portal.example.com', 'http://[::1]:3000'] })
    expect(loadConfig(['--allowed-hosts', 'a.example', '--allowed-origins', 'https://b.example:8443'], { UDPLAT_ALLOWED_HOSTS: 'c.example', UDPLAT_ALLOWED_ORIGINS: 'https://c.example' }))
      .toMatchObject({ allowedHosts: ['a.example'], allowedOrigins: ['https://b.example:8443'] })
  })

  it.each([
    ['UDPLAT_ALLOWED_HOSTS', 'udplat.example.net:9470', 'takes host names such as udplat.example.net or *.example.net, without a scheme or port, got "udplat.example.net:9470"'],
    ['UDPLAT_ALLOWED_HOSTS', 'https://udplat.example.net', 'got "https://udplat.example.net"'],
    ['UDPLAT_ALLOWED_HOSTS', '*', 'got "*"'],
    ['UDPLAT_ALLOWED_ORIGINS', '*', 'takes origins as browsers send them, such as https://portal.example.com (scheme, host, and a port only when not the scheme\'s own), got "*"'],
    ['UDPLAT_ALLOWED_ORIGINS', 'null', 'got "null"'],
    ['UDPLAT_ALLOWED_ORIGINS', 'portal.example.com', 'got "portal.example.com"'],
    ['UDPLAT_ALLOWED_ORIGINS', 'https://portal.example.com/', 'got "https://portal.example.com/"'],
    ['UDPLAT_ALLOWED_ORIGINS', 'https://portal.example.com:443', 'got "https://portal.example.com:443"'],
    ['UDPLAT_ALLOWED_ORIGINS', 'https://Portal.example.com', 'got "https://Portal.example.com"'],
    ['UDPLAT_ALLOWED_ORIGINS', 'ftp://portal.example.com', 'got "ftp://portal.example.com"']
  ])('refuses %s=%s at start', (name, value, message) => {
    expect(() => loadConfig([], { [name]: value })).toThrow(ConfigError)
    expect(() => loadConfig([], { [name]: value })).toThrow(name)
    expect(() => loadConfig([], { [name]: value })).toThrow(message)
  })
})

describe('isLoopback', () => {
  it.each([['127.0.0.1', true], ['127.1.2.3', true], ['::1', true], ['localhost', true], ['0.0.0.0', false], ['::', false], ['10.0.0.1', false], ['127.example.com', false]])('%s → %s', (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback)
  })
})

import { isIP } from 'node:net'
import { hostname } from 'node:os'
import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { MisdirectedRequest, OriginForbidden, problemResponses } from '../errors.js'

/** Headers a page of an allowed origin may send beyond the safelisted ones: the token, a JSON body, a stream's cursor. */
const ALLOW_HEADERS = 'Authorization, Content-Type, Last-Event-ID'
/** Headers it may read beyond the safelisted ones: a new session's URL, and the scheme a 401 asks for. */
const EXPOSE_HEADERS = 'Location, WWW-Authenticate'
const PREFLIGHT_MAX_AGE_S = 600

/** The name in a Host header: without its port, an IPv6 address without its brackets, lower case. */
function nameOf (host: string): string {
  const bracketed = /^\[([^\]]*)\](:\d*)?$/.exec(host)
  return (bracketed?.[1] ?? host.replace(/:\d*$/, '')).toLowerCase()
}

/**
 * Whether a Host names this service. DNS rebinding needs a name an attacker's DNS answers for, so these are its
 * own: localhost, any IP address (a page whose origin is an address is served from that address), the name it
 * listens on, this machine's name when it listens on every address, and UDPLAT_ALLOWED_HOSTS (`*.suffix` for
 * subdomains). Any port: a port forward or a proxy in front may change it, and the name is what a rebinding
 * page controls.
 */
function ownHost ({ host: listenHost, allowedHosts }: Pick<Config, 'host' | 'allowedHosts'>): (host: string) => boolean {
  const names = new Set(['localhost', ...allowedHosts.filter((name) => !name.startsWith('*.'))])
  if (isIP(listenHost) === 0) names.add(listenHost.toLowerCase())
  if (listenHost === '0.0.0.0' || listenHost === '::') names.add(hostname().toLowerCase())
  const suffixes = allowedHosts.filter((name) => name.startsWith('*.')).map((name) => name.slice(1))
  return (host) => {
    const name = nameOf(host)
    return names.has(name) || isIP(name) !== 0 || suffixes.some((suffix) => name.endsWith(suffix))
  }
}

/** Whether a page of `origin` is this service's own: its host and port are the request's Host (as browsers write both). */
function sameOrigin (origin: string, host: string | undefined): boolean {
  try {
    const page = new URL(origin)
    return host !== undefined && new URL(`${page.protocol}//${host}`).host === page.host
  } catch {
    return false
  }
}

/**
 * Who may call the service from a browser. A request whose Host is not one of the service's own is a 421 (a DNS
 * rebinding page would otherwise be same-origin with it); one from a page of another origin is a 403, unless that
 * origin is in UDPLAT_ALLOWED_ORIGINS, which gets CORS answers, preflights included. Requests that say nothing of
 * where they come from (curl, Prometheus) pass.
 */
export default fp(async (app) => {
  const isOwnHost = ownHost(app.config)
  const allowedOrigins = new Set(app.config.allowedOrigins)
  app.addHook('onRoute', (route) => {
    if (route.schema === undefined || route.schema.hide === true) return
    route.schema.response = { ...problemResponses(OriginForbidden, MisdirectedRequest), ...(route.schema.response as object | undefined) }
  })
  app.addHook('onRequest', async (request, reply) => {
    const { host, origin } = request.headers
    if (host !== undefined && !isOwnHost(host)) throw new MisdirectedRequest(host)
    // Answers differ by Origin once some origin is allowed: caches must keep them apart.
    if (allowedOrigins.size > 0) reply.header('vary', 'Origin')
    if (origin === undefined) {
      // What a page of another site loads without CORS (fetch no-cors, <script>, <img>) carries no Origin, but
      // browsers say where it came from; a navigation (a link, a portal's frame of /ui) is the reader's own doing.
      const site = request.headers['sec-fetch-site']
      if ((site === 'cross-site' || site === 'same-site') && request.headers['sec-fetch-mode'] !== 'navigate') {
        throw new OriginForbidden(`another site (Sec-Fetch-Site: ${site})`)
      }
      return
    }
    if (sameOrigin(origin, host)) return
    if (!allowedOrigins.has(origin)) throw new OriginForbidden(origin)
    reply.header('access-control-allow-origin', origin).header('access-control-expose-headers', EXPOSE_HEADERS)
    const methods = app.allowedMethods(request.url)
    if (request.method !== 'OPTIONS' || request.headers['access-control-request-method'] === undefined || methods.length === 0) return
    return reply.code(204)
      .header('access-control-allow-methods', methods.join(', '))
      .header('access-control-allow-headers', ALLOW_HEADERS)
      .header('access-control-max-age', String(PREFLIGHT_MAX_AGE_S))
      .send()
  })
}, { name: 'origins', dependencies: ['config', 'methods'] })

import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'

/** The page's own files: plain browser modules, copied beside the compiled service by `npm run build`. */
const PAGE_DIR = fileURLToPath(new URL('../ui/', import.meta.url))
const require = createRequire(import.meta.url)

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8'
}

interface Asset { type: string, body: Buffer, etag: string }

function readAsset (path: string): Asset {
  const body = readFileSync(path)
  const type = CONTENT_TYPES[extname(path)]
  if (type === undefined) throw new Error(`no content type for ${path}`)
  return { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` }
}

/** Every file the page loads, by its name under /ui/assets/, read once: the page and uPlot, nothing from elsewhere. */
function readAssets (): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  for (const name of readdirSync(PAGE_DIR)) if (name !== 'index.html') assets.set(name, readAsset(`${PAGE_DIR}${name}`))
  for (const name of ['uPlot.esm.js', 'uPlot.min.css']) assets.set(name, readAsset(require.resolve(`uplot/dist/${name}`)))
  return assets
}

/**
 * The live page at /ui and /ui/sessions/{id} (one page; it reads the path), and its assets. No token is needed
 * to load it: the page asks for one when the API answers 401. The Content-Security-Policy lets it reach this
 * service only, and lets only `uiFrameAncestors` frame it.
 */
const uiRoutes: FastifyPluginAsync = async (app) => {
  const page = readAsset(`${PAGE_DIR}index.html`)
  const assets = readAssets()
  const policy = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${app.config.uiFrameAncestors ?? "'self'"}`
  ].join('; ')

  function send (request: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
    reply
      .header('content-security-policy', policy)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      // Revalidated on every load, so a new build is never mixed with cached modules of the last one.
      .header('cache-control', 'no-cache')
      .header('etag', asset.etag)
    if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send()
    return reply.type(asset.type).send(asset.body)
  }

  const hidden = { schema: { hide: true } }
  for (const url of ['/ui', '/ui/', '/ui/sessions/:id']) {
    app.get(url, hidden, async (request, reply) => send(request, reply, page))
  }
  app.get<{ Params: { name: string } }>('/ui/assets/:name', hidden, async (request, reply) => {
    const asset = assets.get(request.params.name)
    return asset === undefined ? reply.callNotFound() : send(request, reply, asset)
  })
}

export default uiRoutes

import { describe, expect, it } from 'vitest'
import { expectProblem, sharedApp, testApp } from '../helpers/app.js'

const TOKEN = 'correct-horse-battery-staple'
const PAGE_URLS = ['/ui', '/ui/', '/ui/sessions/aCqNqExqiwvOv6CBpKk9A']

type App = Awaited<ReturnType<typeof testApp>>

/** Every path the page loads: the assets index.html names, and the modules they import, followed to the end. */
async function pageAssets (app: App): Promise<Map<string, { type: string, body: string }>> {
  const page = (await app.inject({ url: '/ui' })).body
  const todo = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map(([, path]) => path!).filter((path) => path.startsWith('/ui/assets/'))
  const found = new Map<string, { type: string, body: string }>()
  for (let path = todo.pop(); path !== undefined; path = todo.pop()) {
    if (found.has(path)) continue
    const res = await app.inject({ url: path })
    expect(res.statusCode, path).toBe(200)
    found.set(path, { type: String(res.headers['content-type']), body: res.body })
    for (const [, imported] of res.body.matchAll(/^import [^'\n]*'\.\/([^']+)'/gm)) todo.push(`/ui/assets/${imported}`)
  }
  return found
}

describe('GET /ui', () => {
  it('serves one page for the list and for every session, with a policy that keeps it on this service', async () => {
    const app = await sharedApp()
    const pages = await Promise.all(PAGE_URLS.map(async (url) => await app.inject({ url })))
    for (const res of pages) {
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
      expect(res.body).toBe(pages[0]!.body)
      expect(res.headers['x-content-type-options']).toBe('nosniff')
      expect(String(res.headers['content-security-policy']).split('; ')).toEqual([
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'self'"
      ])
    }
  })

  it('serves every module and stylesheet the page loads, uPlot included, and names nothing off this service', async () => {
    const assets = await pageAssets(await sharedApp())
    expect([...assets.keys()]).toEqual(expect.arrayContaining(['/ui/assets/main.js', '/ui/assets/style.css', '/ui/assets/uPlot.esm.js', '/ui/assets/uPlot.min.css']))
    for (const [path, { type, body }] of assets) {
      expect(type, path).toBe(path.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8')
      if (!path.includes('uPlot')) expect(body, path).not.toMatch(/\/\/[a-z0-9.-]+\.[a-z]{2,}\//i)
    }
  })

  it('answers a request that has the page with 304', async () => {
    const app = await sharedApp()
    const first = await app.inject({ url: '/ui/assets/main.js' })
    const again = await app.inject({ url: '/ui/assets/main.js', headers: { 'if-none-match': String(first.headers.etag) } })
    expect(again.statusCode).toBe(304)
    expect(again.body).toBe('')
  })

  it('answers an unknown asset with a 404 problem', async () => {
    expectProblem(await (await sharedApp()).inject({ url: '/ui/assets/..%2Fconfig.js' }), 404, 'UDPLAT_ROUTE_NOT_FOUND')
  })

  it('needs no token, while the API it calls does', async () => {
    const app = await testApp({ token: TOKEN })
    expect((await app.inject({ url: '/ui/sessions/x' })).statusCode).toBe(200)
    expect((await app.inject({ url: '/ui/assets/api.js' })).statusCode).toBe(200)
    expectProblem(await app.inject({ url: '/v1/host' }), 401, 'UDPLAT_UNAUTHORIZED')
  })

  it('lets the configured portals frame it', async () => {
    const app = await testApp({ uiFrameAncestors: "'self' https://portal.example.com" })
    expect((await app.inject({ url: '/ui' })).headers['content-security-policy']).toMatch(/; frame-ancestors 'self' https:\/\/portal\.example\.com$/)
  })

  it('is not part of the API document', async () => {
    const app = await sharedApp()
    expect(Object.keys((app.swagger() as { paths: object }).paths).filter((path) => path.startsWith('/ui'))).toEqual([])
  })
})

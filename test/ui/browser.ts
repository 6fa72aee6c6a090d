import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'

/** Debian's chromium, headless; as root it needs --no-sandbox, and the rest keep it off the network. */
const CHROMIUM = '/usr/bin/chromium'
const FLAGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-gpu',
  '--disable-quic'
]

export interface Browser {
  context: BrowserContext
  close: () => Promise<void>
}

/** Chromium with a fresh profile of its own, removed at close; `flags` go after the usual ones. */
export async function launchBrowser (flags: string[] = []): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'udplat-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...FLAGS, ...flags],
    viewport: { width: 1280, height: 900 }
  })
  return {
    context,
    close: async () => {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    }
  }
}

export interface WatchedPage {
  page: Page
  /** Every request the page made: its URL and headers. */
  requests: Array<{ url: string, headers: Record<string, string> }>
  /** Uncaught errors, and what the Content-Security-Policy refused. */
  errors: string[]
}

/** A new tab that records its requests and its errors. */
export async function watchedPage (context: BrowserContext): Promise<WatchedPage> {
  const page = await context.newPage()
  const watched: WatchedPage = { page, requests: [], errors: [] }
  page.on('request', (request) => { watched.requests.push({ url: request.url(), headers: request.headers() }) })
  page.on('pageerror', (error) => { watched.errors.push(error.message) })
  // Failed fetches are console errors too (a 400 the page shows on purpose): only policy refusals count here.
  page.on('console', (message) => { if (/Content Security Policy|Uncaught/.test(message.text())) watched.errors.push(message.text()) })
  return watched
}

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { fakeProbe, listeningApp } from '../helpers/app.js'
import { launchBrowser, watchedPage, type Browser, type WatchedPage } from './browser.js'

// Text that people, programs and the kernel choose, on the page in Chromium: a session's name and a reader's comm
// that start with a right-to-left override (U+202E), or close an isolate first (U+2069), change the direction of
// that text only, never of the pid or anything else beside it.

const UI_MS = 20_000
const CONTROLS = /[\u202a-\u202e\u2066-\u2069]/

let browser: Browser
beforeAll(async () => { browser = await launchBrowser() }, 60_000)
afterAll(async () => { await browser?.close() })

/** Every text node holding a direction control that is not the only content of an element that isolates it. */
const unisolated = async ({ page }: WatchedPage) => await page.evaluate((controls) => {
  const found: string[] = []
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT)
  for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
    if (!new RegExp(controls).test(node.textContent ?? '')) continue
    const parent = node.parentElement!
    if (getComputedStyle(parent).unicodeBidi !== 'isolate' || parent.childNodes.length !== 1) found.push(`${parent.outerHTML} in ${parent.parentElement?.outerHTML}`)
  }
  return found
}, CONTROLS.source)

/** The left edge of each character of `text` where a cell shows it, in the order of the text. */
const edges = async ({ page }: WatchedPage, cell: string, text: string) => await page.locator(cell).first().evaluate((element, wanted) => {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT)
  for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
    const at = node.textContent!.indexOf(wanted)
    if (at < 0) continue
    return [...wanted].map((_, i) => {
      const range = document.createRange()
      range.setStart(node, at + i)
      range.setEnd(node, at + i + 1)
      return range.getBoundingClientRect().left
    })
  }
  return []
}, text)

const increasing = (xs: number[]) => xs.length > 1 && xs.every((x, i) => i === 0 || x > xs[i - 1]!)

describe('direction controls in names and comms', () => {
  // Each case: a name, a comm, and the name as the page shows it (an isolate cannot hold a paragraph's end: escaped).
  it.each([
    ['an override', '\u202eudpwork', '\u202ekrowpdu', '\u202eudpwork'],
    ['an isolate closed first', '\u2069\u202eudpwork', '\u2069\u202ekrow', '\u202eudpwork'],
    ['an isolate left open', '\u2067\u202eudpwork', '\u2067\u202ekrow', '\u2067\u202eudpwork\u2069'],
    ['a paragraph ended first', '\u2029\u202eudpwork', '\u2029\u202ekrow', '\\u2029\u202eudpwork'],
    ['an information separator first', '\u001c\u202eudpwork', '\u001c\u202ekrow', '\\u001c\u202eudpwork'],
    ['a next line first', '\u0085\u202eudpwork', '\u0085\u202ekrow', '\\u0085\u202eudpwork'],
    ['a newline first', '\n\u202eudpwork', '\n\u202ekrow', '\\u000a\u202eudpwork']
  ])('stay inside the name and the comm they start: %s', async (_, name, comm, shown) => {
    fakeProbe('run', { events: 2, comm })
    const { base } = await listeningApp()
    const created = await fetch(`${base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, filter: { comm } }) })
    const session = await created.json() as { id: string, name: string }
    expect(session.name).toBe(name)
    await vi.waitFor(async () => expect((await (await fetch(`${base}/v1/sessions/${session.id}`)).json()).lastSeq).toBe(2))
    const { events } = await (await fetch(`${base}/v1/sessions/${session.id}/events`)).json() as { events: Array<{ comm: string, pid: number, tid: number }> }
    expect(events[0]!.comm).toBe(comm)
    const watched = await watchedPage(browser.context)
    try {
      await watched.page.goto(`${base}/ui`)
      await expect.poll(async () => await watched.page.locator(`tr[data-session="${session.id}"]`).count(), { timeout: UI_MS }).toBe(1)
      expect(await unisolated(watched)).toEqual([])
      // The filter, shown after the name's row cell, reads left to right.
      expect(increasing(await edges(watched, `tr[data-session="${session.id}"] td.mono`, 'comm='))).toBe(true)

      await watched.page.goto(`${base}/ui/sessions/${session.id}`)
      await expect.poll(async () => await watched.page.locator('tr.event').count(), { timeout: UI_MS }).toBe(2)
      expect(await watched.page.locator('.session-header h1').textContent()).toBe(shown)
      expect(await unisolated(watched)).toEqual([])
      // The reader's pid and tid, after the comm in the same cell, read left to right: "17967/17967", not "76971/76971".
      const { pid, tid } = events[0]!
      const xs = await edges(watched, 'tr.event[data-seq="1"] td:nth-child(7)', `${pid}/${tid}`)
      console.log(`comm ${JSON.stringify(comm)}: ${pid}/${tid} drawn at x = ${xs.map((x) => x.toFixed(1)).join(' ')}`)
      expect(increasing(xs)).toBe(true)
      expect(watched.errors).toEqual([])
    } finally {
      await watched.page.close()
    }
  })
})

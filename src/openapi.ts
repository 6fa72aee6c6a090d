/**
 * `write`: regenerates openapi/openapi.json and openapi/openapi.yaml from the route schemas.
 * `check`: regenerates them into a temporary folder and fails if they differ from the committed ones.
 * Neither listens nor needs a loader.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp } from './app.js'
import { loadConfig } from './config.js'

const OUTPUT_DIR = fileURLToPath(new URL('../openapi/', import.meta.url))
const FILES = ['openapi.json', 'openapi.yaml'] as const

async function generate (dir: string): Promise<void> {
  const app = buildApp(loadConfig([], {}))
  await app.ready()
  writeFileSync(join(dir, 'openapi.json'), `${JSON.stringify(app.swagger(), null, 2)}\n`)
  writeFileSync(join(dir, 'openapi.yaml'), app.swagger({ yaml: true }))
  await app.close()
}

function read (path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/** Names each committed file that differs from the fresh one, with the first differing line. */
function differences (freshDir: string): string[] {
  return FILES.flatMap((file) => {
    const fresh = readFileSync(join(freshDir, file), 'utf8')
    const committed = read(join(OUTPUT_DIR, file))
    if (committed === fresh) return []
    if (committed === undefined) return [`openapi/${file} is missing`]
    const [freshLines, committedLines] = [fresh.split('\n'), committed.split('\n')]
    const line = freshLines.findIndex((text, i) => text !== committedLines[i])
    const at = line === -1 ? committedLines.length : line
    return [`openapi/${file} differs at line ${at + 1}:\n  committed: ${committedLines[at] ?? '(end of file)'}\n  generated: ${freshLines[at] ?? '(end of file)'}`]
  })
}

const command = process.argv[2]
if (command === 'write') {
  await generate(OUTPUT_DIR)
  console.log(`wrote ${FILES.map((file) => `openapi/${file}`).join(' and ')}`)
} else if (command === 'check') {
  const freshDir = mkdtempSync(join(tmpdir(), 'udplat-openapi-'))
  try {
    await generate(freshDir)
    const found = differences(freshDir)
    if (found.length > 0) {
      console.error(`The committed OpenAPI document is out of date with src/schemas and the routes:\n${found.join('\n')}\nRun \`npm run openapi\` and commit openapi/.`)
      process.exitCode = 1
    } else {
      console.log('openapi/ matches the route schemas')
    }
  } finally {
    rmSync(freshDir, { recursive: true, force: true })
  }
} else {
  console.error('usage: openapi.ts write|check')
  process.exitCode = 2
}

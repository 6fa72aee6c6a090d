#!/usr/bin/env node
/**
 * Runs every benchmark, one after another, and writes their tables into
 * bench/RESULTS.md below the generated-section marker, keeping the text above
 * it (the findings, written by hand). `npm run bench` runs this.
 *
 *   node bench/all.mjs [--quick] [--only overhead,start,pipeline,memory] [--results FILE]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, options, progress, start } from './common.mjs'

const USAGE = 'usage: node bench/all.mjs [--quick] [--only overhead,start,pipeline,memory] [--results FILE]'
const opts = options(USAGE, { quick: false, only: '', results: `${ROOT}bench/RESULTS.md` })
const MARKER = '<!-- Everything below is written by `node bench/all.mjs`; edit above this line. -->'

// --quick checks that everything runs in a few minutes; its figures mean little.
const BENCHES = {
  overhead: opts.quick ? ['--rounds', '2', '--seconds', '1', '--stats-rounds', '1'] : [],
  start: opts.quick ? ['--sessions', '10'] : [],
  pipeline: opts.quick ? ['--rounds', '2', '--seconds', '1', '--records', '500000', '--replay-events', '200000'] : [],
  memory: opts.quick ? ['--rounds', '1'] : []
}
const names = opts.only ? opts.only.split(',') : Object.keys(BENCHES)
for (const name of names) if (!BENCHES[name]) throw new Error(`unknown benchmark ${name}; known: ${Object.keys(BENCHES).join(', ')}`)

const dir = mkdtempSync(join(tmpdir(), 'udplat-bench-'))
const sections = []
try {
  for (const name of names) {
    progress(`running bench/${name}.mjs ${BENCHES[name].join(' ')}`)
    const out = join(dir, `${name}.md`)
    const proc = start(process.execPath, [`${ROOT}bench/${name}.mjs`, ...BENCHES[name], '--out', out])
    proc.child.stderr.pipe(process.stderr)
    const { code, signal } = await proc.exited
    if (code !== 0) throw new Error(`bench/${name}.mjs failed (${signal ?? `exit ${code}`})`)
    sections.push(readFileSync(out, 'utf8').trim())
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

let kept = `# udplat benchmarks\n\n${MARKER}`
try {
  const previous = readFileSync(opts.results, 'utf8')
  if (previous.includes(MARKER)) kept = previous.slice(0, previous.indexOf(MARKER) + MARKER.length)
} catch {}
writeFileSync(opts.results, `${kept}\n\n${sections.join('\n\n')}\n`)
progress(`wrote ${opts.results}`)

import { ApiError, json, sessionPath } from './api.js'
import { histogramChart } from './chart.js'
import { facts, h, isolated, section } from './dom.js'
import { EVENT_COLUMNS, eventRow, noticeRow } from './events.js'
import { count, duration, filterLine, inline, span } from './format.js'
import { every } from './poll.js'
import { countDescriptions, openapi } from './schema.js'
import { deleteButton, ENDED_STATES } from './sessions.js'
import { followEvents } from './stream.js'

const REFRESH_MS = 1000
const FLUSH_MS = 100
/** Rows kept in the events table, newest first; the counts below it cover every event received. */
const MAX_ROWS = 500
/** Fields of a session shown in their own way; any other the API gains (direction, …) is listed as it is. */
const SESSION_FIELDS = new Set(['id', 'name', 'state', 'createdAt', 'startedAt', 'endedAt', 'expiresAt', 'filter', 'thresholdUs', 'planRequested', 'plan', 'marks', 'kernelRelease', 'notes', 'bufferEvents', 'ttlSeconds', 'error', 'lastSeq', 'counts'])
/** Counts that say data is missing or could not be attributed: shown as warnings when not zero. */
const WARNINGS = new Set(['kernelLost', 'evicted', 'dropsLost', 'stale', 'untracked'])

/** One tile per number in `counts`, one table per breakdown (drops by reason, …), whatever counts the API has. */
function countsPanel (counts, descriptions) {
  const entries = Object.entries(counts)
  const tiles = entries.filter(([, value]) => typeof value === 'number').map(([name, value]) =>
    h('div', { class: `tile${WARNINGS.has(name) && value > 0 ? ' warn' : ''}`, title: descriptions[name], 'data-count': name },
      h('span', { class: 'value' }, count(value)), h('span', { class: 'name' }, name)))
  const breakdowns = entries.filter(([, value]) => value !== null && typeof value === 'object').map(([name, value]) =>
    h('div', { class: 'breakdown', 'data-count': name, title: descriptions[name] }, h('h3', {}, name),
      Object.keys(value).length === 0
        ? h('p', { class: 'muted' }, 'none')
        : h('table', {}, h('tbody', {}, Object.entries(value).sort(([, a], [, b]) => b - a)
          .map(([key, n]) => h('tr', {}, h('td', { class: 'mono' }, isolated(key)), h('td', { class: 'num' }, count(n))))))))
  return [h('div', { class: 'tiles' }, tiles), h('div', { class: 'breakdowns' }, breakdowns)]
}

/** Count and every *Ns figure of each stage, with whatever stages and percentiles the API gives. */
function percentilesTable (stages) {
  const rows = Object.entries(stages)
  const figures = [...new Set(rows.flatMap(([, stage]) => Object.keys(stage).filter((key) => key.endsWith('Ns'))))]
  return h('table', { class: 'percentiles' },
    h('thead', {}, h('tr', {}, h('th', {}, 'stage'), h('th', {}, 'count'), figures.map((key) => h('th', {}, key.replace(/Ns$/, ''))))),
    h('tbody', {}, rows.map(([name, stage]) => h('tr', { 'data-stage': name, class: stage.measured ? undefined : 'muted' },
      h('td', {}, name),
      h('td', { class: 'num' }, stage.measured ? count(stage.count) : 'not measured by this plan'),
      figures.map((key) => h('td', { class: 'num' }, duration(stage[key])))))))
}

/** How often each value came up, as bars: the slowest stage, the reader verdict. */
function tallyPanel (title, tally, total, note) {
  if (tally.size === 0) return undefined
  return h('div', { class: 'tally', 'data-tally': title }, h('h3', {}, title),
    [...tally].sort(([, a], [, b]) => b - a).map(([value, n]) => h('div', { class: 'bar' },
      h('span', { class: 'label' }, value), h('progress', { max: total, value: n }),
      h('span', { class: 'num' }, `${count(n)} (${Math.round((100 * n) / total)} %)`))),
    h('small', { class: 'muted' }, note))
}

/**
 * One session, live: its settings and counts, the per-stage histograms, the split of slowest stages and reader
 * verdicts over the events received, and the events themselves as they arrive.
 */
export function sessionView (root, id, navigate) {
  const controller = new AbortController()
  const { signal } = controller
  const header = h('div', { class: 'session-header' })
  const counters = h('div', { class: 'counters' })
  const chartBox = h('div', { class: 'chart' })
  const chartNote = h('p', { class: 'muted' })
  const percentiles = h('div')
  const tallies = h('div', { class: 'tallies' })
  const streamStatus = h('p', { class: 'stream-status' })
  const rows = h('tbody')
  root.replaceChildren(
    header,
    section('Counts', counters),
    section('Latency by stage', chartNote, chartBox, percentiles),
    section('Where the time went', tallies),
    section('Events', streamStatus, h('div', { class: 'scroll' }, h('table', { class: 'events' },
      h('thead', {}, h('tr', {}, EVENT_COLUMNS.map((title) => h('th', {}, title)))), rows))))
  const chart = histogramChart(chartBox)

  let descriptions = {}
  openapi().then((doc) => { descriptions = countDescriptions(doc) }, () => {})

  const shown = async () => {
    try {
      const [session, histogram] = await Promise.all([json(sessionPath(id)), json(`${sessionPath(id)}/histogram`)])
      if (signal.aborted) return false
      showSession(session, histogram)
      return !ENDED_STATES.has(session.state)
    } catch (err) {
      if (signal.aborted) return false
      const gone = err instanceof ApiError && err.status === 404
      header.replaceChildren(h('p', { class: 'error', role: 'alert' }, isolated(err.message), gone ? ': it was deleted, or removed after its retention.' : ''),
        h('a', { href: '/ui', 'data-route': true }, 'All sessions'))
      return !gone
    }
  }

  function showSession (session, histogram) {
    const now = Date.now()
    header.replaceChildren(
      h('div', { class: 'title' },
        h('h1', {}, isolated(session.name ?? session.id)), h('span', { class: `state ${session.state}`, 'data-state': session.state }, session.state),
        deleteButton(session.id, () => navigate('/ui')), h('a', { href: '/ui', 'data-route': true }, 'All sessions')),
      facts([
        ['id', session.id],
        ['plan', session.plan === null ? session.planRequested : `${session.plan}${session.planRequested === 'auto' ? ' (auto)' : ''}`],
        ['marks', inline(session.marks)],
        ['filter', filterLine(session.filter)],
        ['threshold', `${count(session.thresholdUs)} µs`],
        ['age', span(now - Date.parse(session.createdAt))],
        ['TTL', session.endedAt === null ? `${span(Date.parse(session.expiresAt) - now)} left of ${span(session.ttlSeconds * 1000)}` : `ended ${span(now - Date.parse(session.endedAt))} ago`],
        ['buffer', `${count(session.bufferEvents)} events`],
        ['kernel', isolated(session.kernelRelease)],
        ['notes', isolated(session.notes)],
        ['error', isolated(session.error)],
        ...Object.entries(session).filter(([name]) => !SESSION_FIELDS.has(name)).map(([name, value]) => [name, inline(value)])
      ]))
    counters.replaceChildren(...countsPanel(session.counts, descriptions))
    chart.update(histogram)
    chartNote.textContent = histogram.updatedAt === null
      ? 'No histogram yet: the loader sums it about once a second.'
      : `Every matched datagram (${count(histogram.matched)}), in log2 buckets; p50 dashed, p99 solid (each the upper bound of its bucket).`
    percentiles.replaceChildren(percentilesTable(histogram.stages))
  }

  // Events: every frame is counted at once; rows are drawn in batches, the newest MAX_ROWS kept.
  const stream = { received: 0, first: undefined, last: undefined, lost: 0, reconnects: 0, connection: 'connecting', error: undefined }
  const slowest = new Map()
  const verdicts = new Map()
  // Events with stages: latency (received), send and path; a drop has none.
  let timed = 0
  let pending = []
  let flushing

  const schedule = () => { flushing ??= setTimeout(flush, FLUSH_MS) }
  const queue = (row) => {
    pending.push(row)
    if (pending.length > 2 * MAX_ROWS) pending = pending.slice(-MAX_ROWS)
    schedule()
  }

  function flush () {
    flushing = undefined
    rows.prepend(...pending.slice(-MAX_ROWS).reverse())
    pending = []
    while (rows.rows.length > MAX_ROWS) rows.lastElementChild.remove()
    const seqs = stream.received === 0 ? '' : ` (seq ${stream.first} to ${stream.last})`
    streamStatus.replaceChildren(
      `Stream ${stream.connection}`, stream.error === undefined ? '' : [' (', isolated(stream.error), ')'], `: received ${count(stream.received)} events${seqs}; `,
      h('span', { class: stream.lost > 0 ? 'warn' : undefined }, `lost ${count(stream.lost)}`),
      `; reconnected ${stream.reconnects} times.`)
    Object.assign(streamStatus.dataset, { received: stream.received, lost: stream.lost, reconnects: stream.reconnects, connection: stream.connection })
    const over = `over the ${count(timed)} latency, send and path events received here`
    tallies.replaceChildren(...[
      tallyPanel('slowest stage', slowest, timed, over) ?? h('p', { class: 'muted' }, 'No latency event yet.'),
      tallyPanel('reader verdict', verdicts, [...verdicts.values()].reduce((a, b) => a + b, 0), over)
    ].filter(Boolean))
  }

  const tally = (map, key) => { if (key !== undefined && key !== null) map.set(key, (map.get(key) ?? 0) + 1) }

  function onFrame (type, data) {
    if (type === 'state') {
      queue(noticeRow('state', [`session ${data.state}`, data.error === null ? '' : [': ', isolated(data.error)]]))
      return
    }
    if (type === 'lost') {
      stream.lost += data.count
      queue(noticeRow('lost', `${count(data.count)} events lost: the service's buffer dropped them before this page read them; continuing at seq ${data.nextSeq}.`, { 'data-lost': data.count }))
      return
    }
    stream.received++
    stream.first ??= data.seq
    stream.last = data.seq
    if ('stages' in data) {
      timed++
      tally(slowest, data.slowestStage)
    }
    tally(verdicts, data.reader?.verdict)
    queue(eventRow(type, data))
  }

  function onStatus ({ connection, reconnects, after, error }) {
    if (connection === 'reconnecting') queue(noticeRow('reconnect', ['stream interrupted (', isolated(error), '); reconnecting']))
    if (connection === 'open' && reconnects > 0) {
      queue(noticeRow('reconnect', `reconnected: resumed after seq ${after}`, { 'data-resumed-after': after }))
    }
    Object.assign(stream, { connection, reconnects, error })
    schedule()
  }

  every(REFRESH_MS, signal, shown)
  followEvents(id, { signal, onFrame, onStatus })
  return { stop: () => controller.abort() }
}

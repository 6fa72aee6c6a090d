import { h, isolated } from './dom.js'
import { braced, clock, duration } from './format.js'

export const EVENT_COLUMNS = ['seq', 'time', 'type', 'latency', 'stages', 'flow', 'reader', 'more']

// Fields with a column of their own; every other field of any event type goes, as it is, into "more".
const COLUMNED = new Set(['seq', 'type', 'time', 'latencyNs', 'slowestStage', 'stages', 'src', 'dst', 'comm', 'pid', 'tid'])

const endpoint = ({ address, port }) => `${address.includes(':') ? `[${address}]` : address}:${port}`

/** Each stage of an event (whatever stages it has), the slowest marked. */
const stageSpans = (event) => Object.entries(event.stages ?? {}).map(([key, ns]) => {
  const name = key.replace(/Ns$/, '')
  return h('span', { class: name === event.slowestStage ? 'slowest' : undefined }, `${name} ${duration(ns)}`)
})

/** A table row for an event of any type: latency and drop as the API defines them, others shown field by field. */
export function eventRow (type, event) {
  return h('tr', { class: `event ${type}`, 'data-seq': event.seq, 'data-type': type },
    h('td', { class: 'num' }, event.seq ?? ''),
    h('td', { class: 'mono' }, event.time === undefined ? '' : clock(event.time)),
    h('td', {}, type),
    h('td', { class: 'num' }, event.latencyNs === undefined ? '' : duration(event.latencyNs)),
    h('td', { class: 'stages' }, stageSpans(event)),
    h('td', { class: 'mono' }, event.src === undefined || event.dst === undefined ? '' : `${endpoint(event.src)} → ${endpoint(event.dst)}`),
    h('td', {}, event.comm === undefined ? '' : [isolated(event.comm), ` ${event.pid}/${event.tid}`]),
    h('td', { class: 'more mono' }, Object.entries(event).filter(([key]) => !COLUMNED.has(key))
      .map(([key, value]) => h('span', {}, `${key}=`, braced(value)))))
}

/** A row that says something about the stream itself: events lost, a reconnection; `text` may hold nodes. */
export const noticeRow = (kind, text, attributes = {}) =>
  h('tr', { class: `notice notice-${kind}`, ...attributes }, h('td', { colspan: EVENT_COLUMNS.length }, text))

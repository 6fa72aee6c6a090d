import { isolated } from './dom.js'

const UNITS = [[1e9, 's'], [1e6, 'ms'], [1e3, 'µs'], [1, 'ns']]

/** A duration in nanoseconds, with three significant digits in the largest unit that fits; null is a stage not measured. */
export function duration (ns) {
  if (ns === null || ns === undefined) return '—'
  const [scale, unit] = UNITS.find(([scale]) => ns >= scale) ?? UNITS[UNITS.length - 1]
  return `${Number((ns / scale).toPrecision(3))} ${unit}`
}

export const count = (n) => Number(n).toLocaleString('en')

/** A span of milliseconds as the two largest units: "42 s", "3 min 5 s", "2 h 10 min", "4 d 1 h". */
export function span (ms) {
  const seconds = Math.max(0, Math.round(ms / 1000))
  const parts = [[Math.floor(seconds / 86400), 'd'], [Math.floor(seconds / 3600) % 24, 'h'], [Math.floor(seconds / 60) % 60, 'min'], [seconds % 60, 's']]
  const first = parts.findIndex(([n]) => n > 0)
  if (first === -1) return '0 s'
  return parts.slice(first, first + 2).filter(([n]) => n > 0).map(([n, unit]) => `${n} ${unit}`).join(' ')
}

/** The wall-clock part of an RFC 3339 time, to the microsecond: events are told apart by it. */
export const clock = (time) => /T(\d\d:\d\d:\d\d(\.\d{1,6})?)/.exec(time)?.[1] ?? time

/** A value of any shape as one short line, as nodes: objects as key=value pairs, nested ones in braces, every text isolated. */
export function inline (value) {
  if (typeof value === 'string') return isolated(value)
  if (value === null || typeof value !== 'object') return String(value)
  if (Array.isArray(value)) return value.flatMap((item, i) => i === 0 ? [inline(item)] : [', ', inline(item)])
  return Object.entries(value).flatMap(([key, item], i) => [i === 0 ? '' : ' ', `${key}=`, braced(item)])
}

/** A value as it reads after `key=`: an object in braces. */
export const braced = (value) => value !== null && typeof value === 'object' && !Array.isArray(value) ? ['{', inline(value), '}'] : inline(value)

/** A session's filter, or that it has none. */
export const filterLine = (filter) => Object.keys(filter).length === 0 ? 'everything' : inline(filter)

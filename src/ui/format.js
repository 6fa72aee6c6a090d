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

/** A value of any shape as one short line: objects as key=value pairs. */
export function inline (value) {
  if (value === null || typeof value !== 'object') return String(value)
  if (Array.isArray(value)) return value.map(inline).join(', ')
  return Object.entries(value).map(([key, item]) => `${key}=${typeof item === 'object' && item !== null ? `{${inline(item)}}` : item}`).join(' ')
}

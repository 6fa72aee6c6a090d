/** One media range of an Accept header, with its weight and how specific it is (2: type/subtype, 1: type/*, 0: *\/*). */
interface Range {
  type: string
  q: number
  specificity: number
}

function ranges (accept: string): Range[] {
  return accept.split(',').flatMap((part) => {
    const [media = '', ...params] = part.split(';').map((piece) => piece.trim().toLowerCase())
    if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+*-]+$/.test(media) && media !== '*/*') return []
    const qParam = params.find((param) => param.startsWith('q='))
    const q = qParam === undefined ? 1 : Number(qParam.slice(2))
    if (!Number.isFinite(q) || q < 0 || q > 1) return []
    return [{ type: media, q, specificity: media === '*/*' ? 0 : media.endsWith('/*') ? 1 : 2 }]
  })
}

/** The weight and specificity with which `accept` takes `type`: its most specific matching range. */
function preference (all: Range[], type: string): [number, number] {
  const [major] = type.split('/')
  const matching = all.filter((range) => range.type === type || range.type === `${major}/*` || range.type === '*/*')
  const best = matching.sort((a, b) => b.specificity - a.specificity)[0]
  return best === undefined ? [0, -1] : [best.q, best.specificity]
}

/**
 * Whether a request for events wants Server-Sent Events rather than a JSON page: only when its Accept
 * header names text/event-stream itself, with a weight above JSON's (a tie goes to the range named more
 * precisely, and then to JSON). No Accept header, `*\/*` and anything unknown get JSON.
 */
export function wantsEventStream (accept: string | undefined): boolean {
  if (accept === undefined) return false
  const all = ranges(accept)
  const stream = all.find((range) => range.type === 'text/event-stream')
  if (stream === undefined || stream.q === 0) return false
  const [jsonQ, jsonSpecificity] = preference(all, 'application/json')
  return stream.q > jsonQ || (stream.q === jsonQ && jsonSpecificity < 2)
}

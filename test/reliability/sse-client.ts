import { get, type IncomingMessage } from 'node:http'
import { expect } from 'vitest'
import { parseFrames, type Frame } from '../helpers/sse.js'

/** An event stream read with node's http client, which can stop reading (`pause()`) so the server's writes back up. */
export interface StreamClient {
  res: IncomingMessage
  /** Everything received so far. */
  text: () => string
  /** Resolves with every frame once the server has ended the stream. */
  ended: Promise<Frame[]>
}

/** Resolves once the first chunk (the stream's first `state` frame) has arrived, or the response has ended. */
export async function openStream (url: string, headers: Record<string, string> = {}): Promise<StreamClient> {
  return await new Promise((resolve, reject) => {
    get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const chunks: string[] = []
      const text = () => chunks.join('')
      const ended = new Promise<Frame[]>((resolve, reject) => {
        res.once('end', () => resolve(parseFrames(text())))
        res.once('error', reject)
      })
      const client = { res, text, ended }
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        chunks.push(chunk)
        if (chunks.length === 1) resolve(client)
      })
      void ended.then(() => resolve(client), reject)
    }).on('error', reject)
  })
}

/** What a stream delivered: its events' seqs and its `lost` frames, checked for exactness on the way. */
export interface Delivery {
  seqs: number[]
  latency: number
  drop: number
  /** Sum of every `lost` frame's count. */
  lost: number
  lostFrames: number
  states: string[]
}

/**
 * Checks a stream's frames: seqs strictly increase; every gap is announced by a `lost` frame whose count
 * is exactly the gap and whose nextSeq is the next event's seq; `id:` is the seq, or nextSeq - 1 for `lost`.
 */
export function delivery (frames: Frame[]): Delivery {
  const result: Delivery = { seqs: [], latency: 0, drop: 0, lost: 0, lostFrames: 0, states: [] }
  let last = 0
  let announced: number | undefined
  for (const frame of frames) {
    if (frame.event === 'state') result.states.push(frame.data.state)
    else if (frame.event === 'lost') {
      expect(frame.data.count).toBe(frame.data.nextSeq - (last + 1))
      expect(frame.id).toBe(String(frame.data.nextSeq - 1))
      announced = frame.data.nextSeq
      result.lost += frame.data.count
      result.lostFrames++
    } else if (frame.event === 'latency' || frame.event === 'drop') {
      const seq = frame.data.seq as number
      expect(frame.id).toBe(String(seq))
      expect(seq).toBe(announced ?? last + 1)
      announced = undefined
      last = seq
      result.seqs.push(seq)
      result[frame.event]++
    }
  }
  return result
}

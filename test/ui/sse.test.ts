import { describe, expect, it } from 'vitest'
import { eventFrames } from '../../src/ui/sse.js'

/** A response body that arrives in these chunks. */
const body = (chunks: string[]) => new ReadableStream<Uint8Array>({
  start (controller) {
    for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk))
    controller.close()
  }
})

const read = async (chunks: string[]) => {
  const frames = []
  for await (const frame of eventFrames(body(chunks))) frames.push(frame)
  return frames
}

describe('the page\'s event stream reader', () => {
  it('gives the frames the service sends, whatever the chunks, without heartbeats', async () => {
    const text = 'event: state\ndata: {"state":"running","error":null}\n\n: heartbeat\n\nid: 3\nevent: latency\ndata: {"seq":3}\n\nid: 9\nevent: lost\ndata: {"count":5,"nextSeq":10}\n\n'
    const expected = [
      { event: 'state', id: undefined, data: '{"state":"running","error":null}' },
      { event: 'latency', id: '3', data: '{"seq":3}' },
      { event: 'lost', id: '9', data: '{"count":5,"nextSeq":10}' }
    ]
    expect(await read([text])).toEqual(expected)
    // Cut anywhere, one character at a time included.
    expect(await read(text.split(''))).toEqual(expected)
    expect(await read([text.slice(0, 37), text.slice(37, 38), text.slice(38)])).toEqual(expected)
  })

  it('reads CRLF line ends, multi-line data and fields without a space', async () => {
    expect(await read(['event:send\r\ndata: {"a":\r\ndata:1}\r\n\r\ndata: x\n\n'])).toEqual([
      { event: 'send', id: undefined, data: '{"a":\n1}' },
      { event: 'message', id: undefined, data: 'x' }
    ])
  })

  it('keeps an unfinished frame back when the stream breaks off', async () => {
    expect(await read(['id: 1\nevent: latency\ndata: {"seq":1}\n\nid: 2\nevent: latency\ndata: {"se'])).toEqual([
      { event: 'latency', id: '1', data: '{"seq":1}' }
    ])
  })
})

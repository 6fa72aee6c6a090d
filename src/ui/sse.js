/** One Server-Sent Events frame: its event name, its id when it has one, and its data text. */
export function parseFrame (block) {
  const frame = { event: 'message', id: undefined, data: undefined }
  for (const line of block.split(/\r\n|\r|\n/)) {
    if (line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (field === 'data') frame.data = frame.data === undefined ? value : `${frame.data}\n${value}`
    else if (field === 'event') frame.event = value
    else if (field === 'id') frame.id = value
  }
  return frame
}

/**
 * The frames of an event stream read with fetch(), which can send headers (EventSource cannot). Frames without
 * data (heartbeats) are skipped, as EventSource skips them.
 */
export async function * eventFrames (body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader()
  let pending = ''
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      const blocks = (pending + value).split(/\r\n\r\n|\n\n|\r\r/)
      pending = blocks.pop()
      for (const block of blocks) {
        const frame = parseFrame(block)
        if (frame.data !== undefined) yield frame
      }
    }
  } finally {
    await reader.cancel().catch(() => {})
  }
}

import { ApiError, problemOf, request, sessionPath } from './api.js'
import { pause } from './poll.js'
import { eventFrames } from './sse.js'

const ENDED = new Set(['stopped', 'expired', 'failed'])
const RECONNECT_MS = 1000

/**
 * Follows a session's event stream from the start, and after a disconnection resumes with Last-Event-ID, so that
 * no event repeats and none is skipped without a `lost` frame saying how many. `onFrame(event, data)` gets every
 * frame; `onStatus({ connection, reconnects, after, error })` each change of connection. Returns once the
 * session has ended (or is gone) and every event was read, or at `signal`'s abort.
 */
export async function followEvents (id, { signal, onFrame, onStatus }) {
  let after = 0
  let reconnects = 0
  while (!signal.aborted) {
    let error
    try {
      const response = await request(`${sessionPath(id)}/events/stream`, {
        headers: { accept: 'text/event-stream', 'last-event-id': String(after) },
        signal
      })
      // 204: the session has ended and nothing follows the cursor.
      if (response.status === 204) return onStatus({ connection: 'ended', reconnects, after })
      if (!response.ok) throw await problemOf(response)
      onStatus({ connection: 'open', reconnects, after })
      let ended = false
      for await (const frame of eventFrames(response.body)) {
        if (frame.id !== undefined) after = Number(frame.id)
        const data = JSON.parse(frame.data)
        onFrame(frame.event, data)
        ended ||= frame.event === 'state' && ENDED.has(data.state)
      }
      if (ended) return onStatus({ connection: 'ended', reconnects, after })
      error = 'the stream closed'
    } catch (err) {
      if (signal.aborted) return
      if (err instanceof ApiError && err.status === 404) return onStatus({ connection: 'gone', reconnects, after, error: err.message })
      error = err.message
    }
    onStatus({ connection: 'reconnecting', reconnects, after, error })
    await pause(RECONNECT_MS, signal)
    reconnects++
  }
}

/** One Server-Sent Events frame as a client sees it; `comment` for lines starting with ':'. */
export interface Frame {
  id?: string
  event?: string
  data?: any
  comment?: string
}

/** Splits an event stream's text into frames, parsing each data line as JSON. */
export function parseFrames (text: string): Frame[] {
  return text.split('\n\n').filter((block) => block !== '').map((block) => {
    const frame: Frame = {}
    for (const line of block.split('\n')) {
      const colon = line.indexOf(':')
      const [field, value] = [line.slice(0, colon), line.slice(colon + 1).trimStart()]
      if (field === '') frame.comment = value
      else if (field === 'data') frame.data = JSON.parse(value)
      else if (field === 'id' || field === 'event') frame[field] = value
    }
    return frame
  })
}

/** What a client can check: event names with their ids, `lost` and `state` with their data. */
export const outline = (frames: Frame[]) => frames.map((frame) =>
  frame.comment !== undefined
    ? ':'
    : frame.event === 'lost' || frame.event === 'state' ? [frame.event, frame.id, frame.data] : [frame.event, frame.id])

import { json, sessionPath } from './api.js'
import { h, isolated, section } from './dom.js'
import { count, filterLine, span } from './format.js'

export const ENDED_STATES = new Set(['stopped', 'expired', 'failed'])

const ARMED_MS = 4000

/** Until when each session's delete button waits for its second click: lists are redrawn under the pointer. */
const armedUntil = new Map()

/**
 * Deletes a session on a second click within a few seconds (a first click only arms it: no confirm(), which
 * browsers block in cross-origin frames); then calls `onDeleted`, or shows why not.
 */
export function deleteButton (id, onDeleted) {
  const armed = () => (armedUntil.get(id) ?? 0) > Date.now()
  const show = () => {
    button.textContent = armed() ? 'Confirm delete' : 'Delete'
    button.classList.toggle('armed', armed())
  }
  const button = h('button', {
    class: 'delete',
    type: 'button',
    onclick: async () => {
      if (!armed()) {
        armedUntil.set(id, Date.now() + ARMED_MS)
        setTimeout(show, ARMED_MS + 100)
        return show()
      }
      armedUntil.delete(id)
      button.disabled = true
      try {
        await json(sessionPath(id), { method: 'DELETE' })
        onDeleted()
      } catch (err) {
        button.replaceWith(h('span', { class: 'error', role: 'alert' }, isolated(err.message)))
      }
    }
  })
  show()
  return button
}

/** The counts worth a glance in a list: matched always, the others when not zero. */
const glance = (counts) => Object.entries(counts)
  .filter(([name, value]) => typeof value === 'number' && (name === 'matched' || value > 0))
  .map(([name, value]) => `${name} ${count(value)}`).join(' · ')

/** Every kept session, with its state, counts, age and time left, a link to its view, and delete. */
export function sessionsTable (sessions, { now, onDeleted }) {
  const rows = sessions.map((session) => {
    const ended = ENDED_STATES.has(session.state)
    return h('tr', { 'data-session': session.id },
      h('td', {}, h('a', { href: `/ui/sessions/${encodeURIComponent(session.id)}`, 'data-route': true }, isolated(session.name ?? session.id)),
        session.name === null ? undefined : h('small', {}, session.id)),
      h('td', {}, h('span', { class: `state ${session.state}` }, session.state), session.error === null ? undefined : h('small', { class: 'error' }, isolated(session.error))),
      h('td', {}, session.plan ?? session.planRequested),
      h('td', { class: 'mono' }, filterLine(session.filter)),
      h('td', {}, `${count(session.thresholdUs)} µs`),
      h('td', { class: 'counts' }, glance(session.counts)),
      h('td', {}, span(now - Date.parse(session.createdAt))),
      h('td', {}, ended ? `ended ${span(now - Date.parse(session.endedAt))} ago` : `${span(Date.parse(session.expiresAt) - now)} left`),
      h('td', {}, deleteButton(session.id, onDeleted)))
  })
  return section(`Sessions (${sessions.length})`, sessions.length === 0
    ? h('p', { class: 'muted' }, 'No session yet: start one below.')
    : h('table', { class: 'sessions' },
      h('thead', {}, h('tr', {}, ['session', 'state', 'plan', 'filter', 'threshold', 'counts', 'age', 'TTL', ''].map((title) => h('th', {}, title)))),
      h('tbody', {}, rows)))
}

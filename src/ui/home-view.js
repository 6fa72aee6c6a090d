import { json } from './api.js'
import { h, isolated, section } from './dom.js'
import { sessionForm } from './form.js'
import { hostPanel, planNote } from './host.js'
import { every, pause } from './poll.js'
import { openapi } from './schema.js'
import { sessionsTable } from './sessions.js'

const REFRESH_MS = 2000

const failure = (what, err) => h('p', { class: 'error', role: 'alert' }, `${what}: `, isolated(err.message))

/** The host, every session, and the form to start one; the first two refreshed every two seconds. */
export function homeView (root, navigate) {
  const controller = new AbortController()
  const hostSlot = h('div', { class: 'host' })
  const listSlot = h('div', { class: 'list' })
  const formSlot = section('Start a session')
  root.replaceChildren(hostSlot, listSlot, formSlot)

  let host
  const refresh = async () => {
    const [hostNow, list] = await Promise.allSettled([json('/v1/host'), json('/v1/sessions')])
    if (controller.signal.aborted) return
    if (hostNow.status === 'fulfilled') host = hostNow.value
    hostSlot.replaceChildren(hostNow.status === 'fulfilled' ? hostPanel(host) : failure('Host', hostNow.reason))
    listSlot.replaceChildren(list.status === 'fulfilled'
      ? sessionsTable(list.value.sessions, { now: Date.now(), onDeleted: refresh })
      : failure('Sessions', list.reason))
  }

  // Built once, after the host is known (its plans annotate the choices), and never redrawn under the typing.
  const buildForm = async () => {
    const doc = await openapi()
    if (controller.signal.aborted) return
    formSlot.append(sessionForm(doc, {
      describeOption: (_path, value) => host === undefined ? undefined : planNote(host, value),
      onCreated: (session) => navigate(`/ui/sessions/${encodeURIComponent(session.id)}`)
    }))
  }

  void (async () => {
    await refresh()
    await buildForm().catch((err) => formSlot.append(failure('The API description', err)))
    await pause(REFRESH_MS, controller.signal)
    await every(REFRESH_MS, controller.signal, refresh)
  })()
  return { stop: () => controller.abort() }
}

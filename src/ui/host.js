import { facts, h, isolated, section } from './dom.js'
import { count } from './format.js'

/** What this host's kernel allows: the attach plans and why not, the hub, and what is in use of the limits. */
export function hostPanel (host) {
  const { limits = {}, usage = {}, hub } = host
  return section('Host',
    facts([
      ['kernel', isolated(host.kernel)],
      ['BTF', host.btf ? 'yes' : 'no: no plan can run'],
      ['auto picks', host.autoPlan ?? 'no plan'],
      ['hub', hub === undefined ? undefined : hub.running ? `running (${hub.plan})` : ['not running', hub.error ? [': ', isolated(hub.error)] : '']],
      ['sessions', usage.activeSessions === undefined ? undefined : `${usage.activeSessions} active of ${limits.maxSessions}, ${usage.keptSessions} kept`],
      ['buffered events', usage.reservedEvents === undefined ? undefined : `${count(usage.reservedEvents)} reserved of ${count(limits.maxBufferedEvents)}`]
    ]),
    h('table', { class: 'plans' },
      h('thead', {}, h('tr', {}, h('th', {}, 'plan'), h('th', {}, 'available'), h('th', {}, 'why not'))),
      h('tbody', {}, (host.plans ?? []).map((plan) => h('tr', { 'data-plan': plan.name, class: plan.available ? 'ok' : 'no' },
        h('td', {}, plan.name), h('td', {}, plan.available ? 'yes' : 'no'), h('td', {}, isolated(plan.reason)))))))
}

/** A word on a plan choice in the form: which plan auto picks here, and plans this kernel does not allow. */
export function planNote (host, value) {
  if (value === 'auto') return host.autoPlan === null ? 'no plan available here' : `${host.autoPlan} here`
  const plan = host.plans?.find(({ name }) => name === value)
  return plan !== undefined && !plan.available ? 'not available here' : undefined
}

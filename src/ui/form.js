import { json } from './api.js'
import { h, isolated } from './dom.js'
import { createSessionSchema, resolve } from './schema.js'

// The form is built from the API's own schema of POST /v1/sessions and checks nothing itself: what is typed is
// sent as typed (a number only where it reads as one), so that a mistake is refused with the API's own message.
const typed = (text, type) => (type === 'integer' || type === 'number') && /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text

function parsedOrText (text) {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const hint = (schema) => schema.description === undefined ? undefined : h('small', {}, schema.description)

function placeholder (schema) {
  if (schema.default !== undefined) return `default ${schema.default}`
  if (schema.minimum !== undefined && schema.maximum !== undefined) return `${schema.minimum} to ${schema.maximum}`
  return undefined
}

/** Checkboxes for a list of choices; none checked leaves the field out. */
function choices (name, path, options) {
  const boxes = options.map((value) => h('input', { type: 'checkbox', value, name: path.join('.') }))
  return {
    element: h('fieldset', { class: 'choices', 'data-path': path.join('/') }, h('legend', {}, name),
      boxes.map((box) => h('label', {}, box, box.value))),
    read: () => {
      const checked = boxes.filter((box) => box.checked).map((box) => box.value)
      return checked.length === 0 ? undefined : checked
    }
  }
}

/** A select for one of several values, or a boolean; the empty choice leaves the field out (the API's default). */
function select (id, path, schema, describeOption) {
  const values = schema.enum ?? [true, false]
  const none = h('option', { value: '' }, schema.default === undefined ? 'any' : `default (${schema.default})`)
  const element = h('select', { id, name: path.join('.'), 'data-path': path.join('/') }, none,
    values.map((value, i) => h('option', { value: String(i) }, [String(value), describeOption(path, value)].filter(Boolean).join(' — '))))
  return { element, read: () => element.value === '' ? undefined : values[Number(element.value)] }
}

/** A text input: a list is separated by commas or spaces; a schema of no simple type is read as JSON when it is JSON. */
function text (id, path, schema, items) {
  const element = h('input', { id, name: path.join('.'), 'data-path': path.join('/'), placeholder: items === undefined ? placeholder(schema) : 'comma-separated' })
  const read = () => {
    const value = element.value.trim()
    if (value === '') return undefined
    if (items !== undefined) return value.split(/[\s,]+/).filter(Boolean).map((item) => typed(item, items.type))
    return schema.type === undefined ? parsedOrText(value) : typed(value, schema.type)
  }
  return { element, read }
}

/** An input for one property, with its label and description. */
function field (doc, name, schema, path, describeOption) {
  schema = resolve(doc, schema)
  if (schema.type === 'object' && schema.properties !== undefined) {
    const inner = fields(doc, schema, path, describeOption)
    return {
      element: h('fieldset', { 'data-path': path.join('/') }, h('legend', {}, name), hint(schema), inner.elements),
      read: () => {
        const value = inner.read()
        return Object.keys(value).length === 0 ? undefined : value
      }
    }
  }
  const items = schema.type === 'array' ? resolve(doc, schema.items) : undefined
  if (items?.enum !== undefined) {
    const group = choices(name, path, items.enum)
    return { element: h('div', { class: 'field' }, group.element, hint(schema)), read: group.read }
  }
  const id = `field-${path.join('-')}`
  const control = schema.enum !== undefined || schema.type === 'boolean'
    ? select(id, path, schema, describeOption)
    : text(id, path, schema, items)
  return { element: h('div', { class: 'field' }, h('label', { for: id }, name), control.element, hint(schema)), read: control.read }
}

/** Inputs for every property of an object schema; read() gives the object of the fields given. */
function fields (doc, schema, path, describeOption) {
  const all = Object.entries(schema.properties ?? {}).map(([name, property]) => [name, field(doc, name, property, [...path, name], describeOption)])
  return {
    elements: all.map(([, { element }]) => element),
    read: () => Object.fromEntries(all.map(([name, { read }]) => [name, read()]).filter(([, value]) => value !== undefined))
  }
}

/**
 * The form that starts a session. `describeOption(path, value)` may say more about a choice (a plan this host
 * lacks); `onCreated(session)` gets the session the API started. A refusal shows the API's message and marks the
 * field it names.
 */
export function sessionForm (doc, { describeOption, onCreated }) {
  const body = fields(doc, createSessionSchema(doc), [], describeOption)
  const error = h('p', { class: 'error', role: 'alert', hidden: true })
  const button = h('button', { type: 'submit' }, 'Start session')
  const form = h('form', { class: 'create', novalidate: true, onsubmit: submit }, body.elements, h('div', { class: 'actions' }, button), error)

  async function submit (event) {
    event.preventDefault()
    for (const marked of form.querySelectorAll('[aria-invalid]')) marked.removeAttribute('aria-invalid')
    error.hidden = true
    button.disabled = true
    try {
      onCreated(await json('/v1/sessions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body.read()) }))
    } catch (err) {
      error.replaceChildren(isolated(err.message), err.code === undefined ? '' : ` (${err.code})`)
      error.hidden = false
      const named = /^body\/(\S+)/.exec(err.message)?.[1]
      const culprit = [...form.querySelectorAll('[data-path]')].findLast((control) => named === control.dataset.path || named?.startsWith(`${control.dataset.path}/`))
      culprit?.setAttribute('aria-invalid', 'true')
    } finally {
      button.disabled = false
    }
  }
  return form
}

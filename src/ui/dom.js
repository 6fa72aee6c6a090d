/**
 * An element with attributes, listeners (`onclick`) and children. Text is always inserted as text, never parsed
 * as HTML: everything shown comes from the API, and traffic chooses some of it (comm, drop reasons).
 */
export function h (tag, attributes = {}, ...children) {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value)
    else element.setAttribute(name, value === true ? '' : String(value))
  }
  element.append(...children.flat(Infinity).filter((child) => child !== undefined && child !== null && child !== false))
  return element
}

// Characters that end a bidi paragraph (class B), past which no isolate holds: shown as their escapes.
const PARAGRAPH_ENDS = new Set([0x0a, 0x0d, 0x1c, 0x1d, 0x1e, 0x85, 0x2029])
const FIRST_ISOLATE = 0x2066
const LAST_ISOLATE = 0x2068
const POP_ISOLATE = 0x2069

/**
 * `text` as an isolate can hold it: each isolate it opens closed, each it closes without opening dropped (that
 * would close the one around it), and each paragraph end escaped.
 */
function containable (text) {
  let open = 0
  const shown = [...text].map((character) => {
    const code = character.codePointAt(0)
    if (PARAGRAPH_ENDS.has(code)) return `\\u${code.toString(16).padStart(4, '0')}`
    if (code >= FIRST_ISOLATE && code <= LAST_ISOLATE) open++
    if (code !== POP_ISOLATE) return character
    if (open === 0) return ''
    open--
    return character
  })
  return shown.join('') + String.fromCodePoint(POP_ISOLATE).repeat(open)
}

/**
 * Text that a person, a program or the kernel chose (a session's name, a comm, a path, a reason), isolated from
 * the text around it: a U+202E at its start must not turn "17967/17967" after it into "76971/76971". Null stays null.
 */
export const isolated = (text) => text === null || text === undefined
  ? text
  : h('bdi', {}, containable(String(text)))

/** A titled section of the page. */
export const section = (title, ...children) => h('section', {}, h('h2', {}, title), ...children)

/** A definition list from [term, value] pairs, skipping pairs without a value (nothing, '', no nodes). */
export const facts = (pairs) => h('dl', { class: 'facts' },
  pairs.filter(([, value]) => value !== undefined && value !== null && value !== '' && !(Array.isArray(value) && value.length === 0)).map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]))

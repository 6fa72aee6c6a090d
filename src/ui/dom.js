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

/** A titled section of the page. */
export const section = (title, ...children) => h('section', {}, h('h2', {}, title), ...children)

/** A definition list from [term, value] pairs, skipping pairs without a value. */
export const facts = (pairs) => h('dl', { class: 'facts' },
  pairs.filter(([, value]) => value !== undefined && value !== null && value !== '').map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]))

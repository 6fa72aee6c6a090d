import { h } from './dom.js'

// For this tab only: sessionStorage goes with the tab, and the token never goes into a URL.
const KEY = 'udplat.token'

export const storedToken = () => sessionStorage.getItem(KEY)

let asking

/**
 * Asks for the token in a dialog, once for every request that got a 401 with `used` (the token it carried, or
 * null); resolves once a new one is stored. A request that carried an older token just tries again.
 */
export function askForToken (used) {
  if (storedToken() !== used) return Promise.resolve()
  asking ??= new Promise((resolve) => {
    const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, 'aria-label': 'token' })
    const dialog = h('dialog', { class: 'token' },
      h('form', {
        onsubmit: (event) => {
          event.preventDefault()
          sessionStorage.setItem(KEY, input.value.trim())
          dialog.close()
          dialog.remove()
          asking = undefined
          resolve()
        }
      },
      h('h2', {}, used === null ? 'This udplat needs its API token' : 'The service refused that token'),
      h('p', {}, 'It is kept for this tab only and sent as an Authorization header.'),
      input,
      h('button', { type: 'submit' }, 'Use token')))
    // Escape would leave the page waiting with no way to answer.
    dialog.addEventListener('cancel', (event) => event.preventDefault())
    document.body.append(dialog)
    dialog.showModal()
  })
  return asking
}

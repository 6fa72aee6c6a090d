import { homeView } from './home-view.js'
import { sessionView } from './session-view.js'

// One page for /ui and /ui/sessions/{id}: the path says which view; links marked data-route change it in place.
const root = document.getElementById('view')
let view

function show () {
  view?.stop()
  const id = /^\/ui\/sessions\/([^/]+)$/.exec(location.pathname)?.[1]
  view = id === undefined ? homeView(root, navigate) : sessionView(root, decodeURIComponent(id), navigate)
}

function navigate (path) {
  history.pushState(null, '', path)
  show()
}

document.addEventListener('click', (event) => {
  const link = event.target.closest('a[data-route]')
  if (link === null || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return
  event.preventDefault()
  navigate(link.getAttribute('href'))
})
window.addEventListener('popstate', show)
show()

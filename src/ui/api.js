import { askForToken, storedToken } from './token.js'

/** What the API said when it refused (its problem+json detail), or why it could not be reached. */
export class ApiError extends Error {
  constructor (status, problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`)
    this.status = status
    this.code = problem.code
  }
}

/** fetch() on the service with the tab's token as a header; a 401 asks for the token and tries again. */
export async function request (path, init = {}) {
  for (;;) {
    const token = storedToken()
    const headers = { ...init.headers, ...(token === null ? {} : { authorization: `Bearer ${token}` }) }
    const response = await fetch(path, { ...init, headers })
    if (response.status !== 401) return response
    await askForToken(token)
  }
}

/** The problem a refused request answered with. */
export async function problemOf (response) {
  return new ApiError(response.status, await response.json().catch(() => ({})))
}

/** A JSON request; the parsed answer, null for 204, or an ApiError. */
export async function json (path, init = {}) {
  const response = await request(path, init)
  if (!response.ok) throw await problemOf(response)
  return response.status === 204 ? null : await response.json()
}

export const sessionPath = (id) => `/v1/sessions/${encodeURIComponent(id)}`

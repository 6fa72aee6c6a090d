// The served OpenAPI document drives the form and the counters' explanations, so that fields the API gains
// (enums, filters, counts) show up here without a change to the page.
let loaded

export const openapi = () => (loaded ??= fetch('/openapi.json').then((response) => response.json()))

/** A schema with its $ref followed into components.schemas. */
export function resolve (doc, schema) {
  while (schema?.$ref !== undefined) schema = doc.components.schemas[schema.$ref.split('/').pop()]
  return schema ?? {}
}

/** The body of POST /v1/sessions. */
export const createSessionSchema = (doc) => resolve(doc, doc.paths['/v1/sessions'].post.requestBody.content['application/json'].schema)

/** What each of a session's counts means, by name. */
export function countDescriptions (doc) {
  const counts = resolve(doc, resolve(doc, doc.components.schemas.Session).properties?.counts)
  return Object.fromEntries(Object.entries(counts.properties ?? {}).map(([name, schema]) => [name, resolve(doc, schema).description]))
}

import fp from 'fastify-plugin'
import { Type } from 'typebox'
import { Problem, problemResponses, ValidationFailed } from '../errors.js'
import { DropEvent, LatencyEvent, LostEvent, PathEvent, SendEvent, StateEvent } from '../schemas/event.js'
import { Filter, Session } from '../schemas/session.js'

/** Schemas that routes reference with `ref()`; they become components.schemas in the OpenAPI document. */
const SHARED_SCHEMAS = [Problem, Filter, Session, LatencyEvent, SendEvent, PathEvent, DropEvent, LostEvent, StateEvent]

const NO_QUERY = Type.Object({}, { additionalProperties: false })

/** The schemas routes share, and what every route's schema says unless it says otherwise. */
export default fp(async (app) => {
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema)
  // A route without a query string schema takes no query (`?anything` is a 400, as an unknown body field is);
  // every route documents its 400.
  app.addHook('onRoute', (route) => {
    if (route.schema === undefined || route.schema.hide === true) return
    route.schema.querystring ??= NO_QUERY
    route.schema.response = { ...problemResponses(ValidationFailed), ...(route.schema.response as object | undefined) }
  })
}, { name: 'route-schemas' })

import { Type, type Static, type TSchema, type TUnsafe } from 'typebox'

/** A `$ref` to a schema registered with `app.addSchema`, typed as the schema itself. */
export function ref<T extends TSchema> (schema: T): TUnsafe<Static<T>> {
  const id = (schema as { $id?: unknown }).$id
  if (typeof id !== 'string') throw new TypeError('ref() needs a schema with an $id')
  return Type.Unsafe<Static<T>>({ $ref: `${id}#` })
}

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

export const Port = Type.Integer({ minimum: 1, maximum: 65535 })

export const DateTime = Type.String({ format: 'date-time' })

export const SessionId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$', description: 'Session id' })

export const SessionParams = Type.Object({ id: SessionId }, { additionalProperties: false })

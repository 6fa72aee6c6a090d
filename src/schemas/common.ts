import { Type, type Static, type TSchema, type TStringOptions, type TUnsafe } from 'typebox'

/** A `$ref` to a schema registered with `app.addSchema`, typed as the schema itself. */
export function ref<T extends TSchema> (schema: T): TUnsafe<Static<T>> {
  const id = (schema as { $id?: unknown }).$id
  if (typeof id !== 'string') throw new TypeError('ref() needs a schema with an $id')
  return Type.Unsafe<Static<T>>({ $ref: `${id}#` })
}

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

/**
 * Text that every reader of it can hold: Unicode without NUL. JSON's escapes can spell a lone surrogate
 * ("\ud800"), which no UTF-8 encoder can write, and a NUL, where C strings end. Written so that it means the
 * same with or without the regex `u` flag: a surrogate passes only as half of a pair.
 */
export const TEXT_PATTERN = '^(?:[^\\u0000\\ud800-\\udfff]|[\\ud800-\\udbff][\\udc00-\\udfff])*$'

/** A string input: Unicode text without NUL (TEXT_PATTERN), with the options given. */
export const Text = (options: TStringOptions = {}) => Type.String({ ...options, pattern: TEXT_PATTERN })

export const Port = Type.Integer({ minimum: 1, maximum: 65535 })

export const DateTime = Type.String({ format: 'date-time' })

export const SessionId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$', description: 'Session id' })

export const SessionParams = Type.Object({ id: SessionId }, { additionalProperties: false })

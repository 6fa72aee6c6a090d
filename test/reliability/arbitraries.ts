import fc from 'fast-check'

// Values for fuzzing the API, drawn from its own JSON schemas: valid ones, and hostile ones near them.

export type Schema = Record<string, any>

/** What a fuzzer may put in a field: wrong types, boundaries, huge and negative numbers, odd text, deep nesting. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(-1, 0, -0, 0.5, 1.5, -1e308, 1e308, 2 ** 31, 2 ** 32, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, 65536, 4194305, 60_000_001, 1_000_001),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', ' ', '\0', 'ñandú', '日本語テスト', '🙂🙂🙂🙂', 'a'.repeat(5000), '../../etc', 'null', '1e400', '0x10', '１２'),
  fc.constantFrom('10.0.0.0/33', '::/129', '1.2.3.4/08', '1.2.3.4', '/8', '1.2.3/24', '256.0.0.0/8', 'fe80::1%eth0/64', ' 10.0.0.0/8', '10.0.0.0/-1'),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 1, max: 2000 }).map(nested)
)

/** An array nested `depth` deep. */
export function nested (depth: number): unknown {
  let value: unknown = 1
  for (let i = 0; i < depth; i++) value = [value]
  return value
}

const FORMATS: Record<string, fc.Arbitrary<string>> = {
  cidr: fc.oneof(
    fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([address, bits]) => `${address}/${bits}`),
    fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([address, bits]) => `${address}/${bits}`)
  ),
  cgroup: fc.oneof(
    fc.array(fc.stringMatching(/^[\w.-]{1,12}$/), { maxLength: 4 }).map((parts) => `/${parts.join('/')}`),
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(String)
  ),
  comm: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 15 }).filter((s) => !s.includes('\0') && Buffer.byteLength(s) <= 15),
  'date-time': fc.date({ noInvalidDate: true }).map((date) => date.toISOString())
}

/**
 * Values valid under `schema` (the subset of JSON Schema the API uses), boundaries included.
 * `resolve` turns a `$ref` into its schema.
 */
export function fromSchema (schema: Schema, resolve: (ref: string) => Schema): fc.Arbitrary<unknown> {
  if (schema.$ref !== undefined) return fromSchema(resolve(schema.$ref), resolve)
  const union = schema.anyOf ?? schema.oneOf
  if (union !== undefined) return fc.oneof(...union.map((branch: Schema) => fromSchema(branch, resolve)))
  if (schema.enum !== undefined) return fc.constantFrom(...schema.enum)
  if (schema.const !== undefined) return fc.constant(schema.const)
  switch (schema.type) {
    case 'integer': {
      const min: number = schema.minimum ?? -(2 ** 40)
      const max: number = schema.maximum ?? 2 ** 40
      const between = min >= -(2 ** 31) && max < 2 ** 31 ? fc.integer({ min, max }) : fc.bigInt({ min: BigInt(min), max: BigInt(max) }).map(Number)
      return fc.oneof(fc.constantFrom(min, max), between)
    }
    case 'number':
      return fc.double({ min: schema.minimum, max: schema.maximum, noNaN: true, noDefaultInfinity: true })
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    case 'string':
      if (schema.format !== undefined && FORMATS[schema.format] !== undefined) return FORMATS[schema.format]!
      if (schema.pattern !== undefined) {
        return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length >= (schema.minLength ?? 0) && s.length <= (schema.maxLength ?? Infinity))
      }
      return fc.string({ unit: 'grapheme', minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 80) })
    case 'array': {
      const constraints = { minLength: schema.minItems ?? 0, maxLength: schema.maxItems ?? 8 }
      const items = fromSchema(schema.items ?? {}, resolve)
      return schema.uniqueItems === true ? fc.uniqueArray(items, { ...constraints, selector: (item) => JSON.stringify(item) }) : fc.array(items, constraints)
    }
    case 'object': {
      const properties: Record<string, Schema> = schema.properties ?? {}
      const record = fc.record(
        Object.fromEntries(Object.entries(properties).map(([key, property]) => [key, fromSchema(property, resolve)])),
        { requiredKeys: schema.required ?? [] }
      )
      if (schema.additionalProperties === undefined || schema.additionalProperties === false || Object.keys(properties).length > 0) return record
      return fc.dictionary(fc.string({ maxLength: 20 }), fromSchema(schema.additionalProperties === true ? {} : schema.additionalProperties, resolve), { maxKeys: 4 })
    }
    default:
      return fc.jsonValue({ maxDepth: 2 })
  }
}

/** `value` with one of its fields (chosen by `pick`, anywhere in it) replaced by `replacement`, or a field added. */
export function mutate (value: unknown, pick: number, replacement: unknown, extraKey: string): unknown {
  const copy = structuredClone(value)
  const slots: Array<[Record<string, unknown> | unknown[], string | number]> = []
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach((item, i) => { slots.push([node, i]); walk(item) })
    else if (node !== null && typeof node === 'object') {
      for (const [key, item] of Object.entries(node)) { slots.push([node as Record<string, unknown>, key]); walk(item) }
    }
  }
  walk(copy)
  if (slots.length === 0 || pick % (slots.length + 1) === slots.length) {
    return copy !== null && typeof copy === 'object' && !Array.isArray(copy) ? { ...copy, [extraKey]: replacement } : replacement
  }
  const [parent, key] = slots[pick % (slots.length + 1)]!
  ;(parent as Record<string | number, unknown>)[key] = replacement
  return copy
}

/** Either a valid value, or a valid one with a hostile field, or anything at all. */
export function nearSchema (schema: Schema, resolve: (ref: string) => Schema): fc.Arbitrary<unknown> {
  const valid = fromSchema(schema, resolve)
  return fc.oneof(
    { weight: 5, arbitrary: valid },
    { weight: 4, arbitrary: fc.tuple(valid, fc.nat(), hostileValue, fc.string({ maxLength: 12 })).map(([value, pick, replacement, key]) => mutate(value, pick, replacement, key)) },
    { weight: 1, arbitrary: hostileValue }
  )
}

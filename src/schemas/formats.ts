import { isIPv4, isIPv6 } from 'node:net'

const U64_MAX = (1n << 64n) - 1n
const COMM_MAX_BYTES = 15

/** Formats the kernel filters need beyond ajv-formats; registered on fastify's Ajv in compilers.ts. */
export const FORMATS: Record<string, (value: string) => boolean> = {
  /** An IPv4 or IPv6 prefix, "10.0.0.0/8" or "2001:db8::/32". */
  cidr (value) {
    const match = /^([^/]+)\/(\d{1,3})$/.exec(value)
    if (match === null) return false
    const [, address = '', prefix = ''] = match
    if (prefix.length > 1 && prefix.startsWith('0')) return false
    if (isIPv4(address)) return Number(prefix) <= 32
    return isIPv6(address) && !address.includes('%') && Number(prefix) <= 128
  },
  /** An absolute, normalized cgroup v2 path ("/", "/system.slice/x.service"), or a cgroup id in decimal. */
  cgroup (value) {
    if (/^\d{1,20}$/.test(value)) return BigInt(value) <= U64_MAX
    if (value === '/') return true
    const [root, ...names] = value.split('/')
    return root === '' && !value.includes('\0') && names.every((name) => name !== '' && name !== '.' && name !== '..')
  },
  /** A task name as the kernel keeps it: at most 15 bytes of UTF-8. */
  comm (value) {
    return !value.includes('\0') && Buffer.byteLength(value) <= COMM_MAX_BYTES
  }
}

/** An Ajv plugin, in the shape fastify's `ajv.plugins` option takes. */
export function addFormats<A extends { addFormat(name: string, validate: (value: string) => boolean): unknown }> (ajv: A): A {
  for (const [name, validate] of Object.entries(FORMATS)) ajv.addFormat(name, validate)
  return ajv
}

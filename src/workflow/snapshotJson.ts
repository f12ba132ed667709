import type { Hex } from 'viem'
import { keccak256Hex } from '../pay/keccak.js'

/**
 * Serialises a run's values for snapshots and blobs: canonical JSON (object keys sorted) where `bigint` is written as
 * `{"$bigint":"<decimal>"}`,
 * `undefined` object members dropped. The same value always gives the same bytes, so hashes are stable.
 *
 * @example
 * ```ts
 * snapshotJson({ b: 1n, a: 'x' }) // '{"a":"x","b":{"$bigint":"1"}}'
 * ```
 */
export function snapshotJson(value: unknown): string {
  return write(value)
}

function write(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null'
    case 'boolean':
      return value ? 'true' : 'false'
    case 'bigint':
      return `{"$bigint":"${value.toString()}"}`
    case 'undefined':
      return 'null'
    case 'object': {
      if (value === null) return 'null'
      if (Array.isArray(value)) return `[${value.map(write).join(',')}]`
      if (value instanceof Uint8Array) return `{"$bytes":"${Buffer.from(value).toString('hex')}"}`
      const rec = value as Record<string, unknown>
      const keys = Object.keys(rec).sort()
      let out = '{'
      let first = true
      for (const k of keys) {
        const v = rec[k]
        if (v === undefined || typeof v === 'function') continue
        out += `${first ? '' : ','}${JSON.stringify(k)}:${write(v)}`
        first = false
      }
      return `${out}}`
    }
    default:
      return 'null'
  }
}

/**
 * Parses what `snapshotJson` wrote, restoring `bigint` and byte values.
 *
 * @example
 * ```ts
 * parseSnapshotJson('{"a":{"$bigint":"5"}}') // { a: 5n }
 * ```
 */
export function parseSnapshotJson<T = unknown>(text: string): T {
  return JSON.parse(text, (_k, v) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v)
      if (keys.length === 1) {
        if (keys[0] === '$bigint') return BigInt(v.$bigint)
        if (keys[0] === '$bytes') return new Uint8Array(Buffer.from(v.$bytes, 'hex'))
      }
    }
    return v
  }) as T
}

/**
 * keccak256 of a value's canonical JSON: the key under which blobs are stored.
 *
 * @example
 * ```ts
 * const ref = hashSnapshotJson({ text: 'hello' }) // 0x…
 * ```
 */
export function hashSnapshotJson(value: unknown): Hex {
  return keccak256Hex(Buffer.from(snapshotJson(value), 'utf8'))
}

import { z } from 'zod'
import type { JSONSchema } from './directory.js'

/** One step of a path into a JSON value: a property name or an array index. */
export type PathSegment = string | number

type S = { readonly [k: string]: unknown }

/** One finding of a structural schema check. `path` is a JSON pointer into the value. */
export type SchemaIssue = {
  readonly path: string
  readonly message: string
  readonly severity: 'error' | 'warning'
}

const cache = new WeakMap<z.ZodType, { input?: JSONSchema; output?: JSONSchema }>()

/**
 * JSON Schema of a zod schema (cached); unrepresentable parts become `{}` (anything).
 *
 * @example
 * ```ts
 * zodJsonSchema(z.object({ text: z.string() }), 'output') // { type: 'object', properties: …, additionalProperties: false }
 * ```
 */
export function zodJsonSchema(schema: z.ZodType, io: 'input' | 'output'): JSONSchema {
  let entry = cache.get(schema)
  if (!entry) {
    entry = {}
    cache.set(schema, entry)
  }
  const hit = entry[io]
  if (hit !== undefined) return hit
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JSONSchema
  entry[io] = out
  return out
}

const isObj = (s: JSONSchema | undefined): s is S => typeof s === 'object' && s !== null

/** True when the schema accepts anything (so nothing can be checked against it). */
export const isUnknownSchema = (s: JSONSchema | undefined): boolean =>
  s === undefined ||
  s === true ||
  (isObj(s) &&
    Object.keys(s).every((k) => k === '$schema' || k === 'description' || k === 'title' || k === '$defs'))

function deref(s: JSONSchema, root: JSONSchema): JSONSchema {
  let cur = s
  for (let i = 0; i < 32 && isObj(cur) && typeof cur.$ref === 'string'; i++) {
    const ref = cur.$ref as string
    if (!ref.startsWith('#')) return {}
    let target: unknown = root
    for (const part of ref.slice(1).split('/').filter(Boolean))
      target = isObj(target as JSONSchema)
        ? (target as S)[part.replace(/~1/g, '/').replace(/~0/g, '~')]
        : undefined
    cur = (target as JSONSchema | undefined) ?? {}
  }
  return cur
}

const alternatives = (s: S): readonly JSONSchema[] | undefined =>
  (s.anyOf as JSONSchema[] | undefined) ?? (s.oneOf as JSONSchema[] | undefined)

function types(s: S): Set<string> | undefined {
  if (s.const !== undefined) return new Set([jsonType(s.const)])
  if (Array.isArray(s.enum)) return new Set(s.enum.map(jsonType))
  if (typeof s.type === 'string') return new Set([s.type])
  if (Array.isArray(s.type)) return new Set(s.type as string[])
  if (s.properties || s.required || s.additionalProperties !== undefined) return new Set(['object'])
  if (s.items || s.prefixItems) return new Set(['array'])
  return undefined
}

function jsonType(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number'
  return typeof v
}

const typeFits = (t: string, allowed: Set<string>) =>
  allowed.has(t) || (t === 'integer' && allowed.has('number'))

const CONSTRAINTS = [
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
] as const

function implied(key: (typeof CONSTRAINTS)[number], a: S, b: S): boolean {
  const x = a[key]
  const y = b[key]
  if (x === undefined) return false
  switch (key) {
    case 'minLength':
    case 'minimum':
    case 'exclusiveMinimum':
    case 'minItems':
    case 'minProperties':
      return (x as number) >= (y as number)
    case 'maxLength':
    case 'maximum':
    case 'exclusiveMaximum':
    case 'maxItems':
    case 'maxProperties':
      return (x as number) <= (y as number)
    default:
      return x === y
  }
}

const ptr = (path: string, seg: string | number) =>
  `${path}/${String(seg).replace(/~/g, '~0').replace(/\//g, '~1')}`

/**
 * Structural check that every value valid under `source` is valid under `target` (JSON Schema 2020-12 subset:
 * type, const/enum, properties/required/additionalProperties, items/prefixItems, anyOf/oneOf, local $ref).
 * Type-level conflicts are errors; value constraints the source does not imply (pattern, bounds, format) are
 * warnings, since the runtime validates them before paying.
 *
 * @example
 * ```ts
 * checkSubschema({ type: 'integer' }, { type: 'number' }) // []
 * checkSubschema({ type: 'string' }, { type: 'number' }) // [{ path: '', message: 'the source may be string, …', severity: 'error' }]
 * ```
 */
export function checkSubschema(
  source: JSONSchema,
  target: JSONSchema,
  roots: { readonly source: JSONSchema; readonly target: JSONSchema } = { source, target },
  path = '',
): SchemaIssue[] {
  const b = deref(target, roots.target)
  if (isUnknownSchema(b)) return []
  if (b === false) return [{ path, message: 'the target accepts nothing', severity: 'error' }]
  const a = deref(source, roots.source)
  if (a === false) return []
  if (isUnknownSchema(a))
    return [{ path, message: 'the source type is unknown, so it cannot be checked', severity: 'warning' }]
  const as = a as S
  const bs = b as S
  const aAlt = alternatives(as)
  if (aAlt) return aAlt.flatMap((alt) => checkSubschema(alt, b, roots, path))
  const bAlt = alternatives(bs)
  if (bAlt) {
    let best: SchemaIssue[] | undefined
    for (const alt of bAlt) {
      const issues = checkSubschema(a, alt, roots, path)
      if (!issues.some((i) => i.severity === 'error')) return issues
      if (!best || issues.length < best.length) best = issues
    }
    return best ?? []
  }
  const issues: SchemaIssue[] = []
  if (Array.isArray(bs.allOf))
    for (const part of bs.allOf as JSONSchema[]) issues.push(...checkSubschema(a, part, roots, path))
  const ta = types(as)
  const tb = types(bs)
  if (tb) {
    if (!ta)
      issues.push({
        path,
        message: `the source may be any type, the target needs ${[...tb].join(' | ')}`,
        severity: 'error',
      })
    else
      for (const t of ta)
        if (!typeFits(t, tb))
          issues.push({
            path,
            message: `the source may be ${t}, the target needs ${[...tb].join(' | ')}`,
            severity: 'error',
          })
  }
  if (issues.length) return issues
  if (bs.const !== undefined || Array.isArray(bs.enum)) {
    const allowed = bs.const !== undefined ? [bs.const] : (bs.enum as unknown[])
    const given =
      as.const !== undefined ? [as.const] : Array.isArray(as.enum) ? (as.enum as unknown[]) : undefined
    const same = (x: unknown) => allowed.some((y) => JSON.stringify(y) === JSON.stringify(x))
    if (!given)
      issues.push({ path, message: `the target only accepts ${JSON.stringify(allowed)}`, severity: 'error' })
    else
      for (const g of given)
        if (!same(g))
          issues.push({
            path,
            message: `${JSON.stringify(g)} is not one of ${JSON.stringify(allowed)}`,
            severity: 'error',
          })
  }
  for (const key of CONSTRAINTS)
    if (bs[key] !== undefined && !implied(key, as, bs))
      issues.push({
        path,
        message: `the target requires ${key}=${JSON.stringify(bs[key])}, which the source does not guarantee (checked at run time before paying)`,
        severity: 'warning',
      })
  const objectish = tb?.has('object') || (!tb && (bs.properties || bs.required))
  if (objectish && ta?.has('object')) {
    const aProps = (as.properties ?? {}) as Record<string, JSONSchema>
    const bProps = (bs.properties ?? {}) as Record<string, JSONSchema>
    const aReq = new Set((as.required ?? []) as string[])
    for (const r of (bs.required ?? []) as string[]) {
      if (!(r in aProps) && as.additionalProperties === false)
        issues.push({
          path: ptr(path, r),
          message: 'required by the target but never provided',
          severity: 'error',
        })
      else if (!aReq.has(r))
        issues.push({
          path: ptr(path, r),
          message: 'required by the target but optional in the source',
          severity: 'error',
        })
    }
    for (const [k, sub] of Object.entries(aProps)) {
      const tsub =
        bProps[k] ??
        (isObj(bs.additionalProperties as JSONSchema) ? (bs.additionalProperties as JSONSchema) : undefined)
      if (tsub !== undefined) issues.push(...checkSubschema(sub, tsub, roots, ptr(path, k)))
      else if (bs.additionalProperties === false || bs.unevaluatedProperties === false)
        issues.push({
          path: ptr(path, k),
          message: 'provided but not accepted by the target',
          severity: 'error',
        })
    }
  }
  if (tb?.has('array') && ta?.has('array')) {
    const ai = as.items as JSONSchema | undefined
    const bi = bs.items as JSONSchema | undefined
    const ap = (as.prefixItems ?? []) as JSONSchema[]
    const bp = (bs.prefixItems ?? []) as JSONSchema[]
    bp.forEach((t, i) => {
      const s = ap[i] ?? ai
      if (s !== undefined) issues.push(...checkSubschema(s, t, roots, ptr(path, i)))
    })
    if (bi !== undefined) {
      for (const [i, s] of ap.slice(bp.length).entries())
        issues.push(...checkSubschema(s, bi, roots, ptr(path, bp.length + i)))
      if (ai !== undefined && ai !== false) issues.push(...checkSubschema(ai, bi, roots, ptr(path, '*')))
    }
  }
  return issues
}

/** Result of walking a path into a schema: the schema found (or unknown), whether it may be absent, or a miss. */
export type PathLookup =
  | { readonly found: true; readonly schema: JSONSchema | undefined; readonly optional: boolean }
  | { readonly found: false; readonly at: string }

/**
 * Walks `path` into `schema`. `undefined` schema means "unknown": every path is accepted, unchecked.
 *
 * @example
 * ```ts
 * schemaAtPath(zodJsonSchema(z.object({ a: z.array(z.string()) }), 'output'), ['a', 0]) // { found: true, schema: { type: 'string' }, optional: false }
 * ```
 */
export function schemaAtPath(schema: JSONSchema | undefined, path: readonly PathSegment[]): PathLookup {
  let cur: JSONSchema | undefined = schema
  let optional = false
  let at = ''
  for (const seg of path) {
    at = ptr(at, seg)
    if (cur === undefined || isUnknownSchema(cur)) return { found: true, schema: undefined, optional }
    const s = deref(cur, schema as JSONSchema)
    if (!isObj(s)) return { found: true, schema: undefined, optional }
    const alts = alternatives(s)
    if (alts) {
      const hits = alts
        .map((alt) => schemaAtPath(alt, [seg]))
        .filter((h): h is Extract<PathLookup, { found: true }> => h.found)
      if (!hits.length) return { found: false, at }
      optional ||= hits.length < alts.length || hits.some((h) => h.optional)
      cur = hits.length === 1 ? hits[0]?.schema : { anyOf: hits.map((h) => h.schema ?? {}) }
      continue
    }
    if (typeof seg === 'number' || ((s.type === 'array' || s.items) && seg !== 'length')) {
      if (typeof seg !== 'number') return { found: false, at }
      const prefix = s.prefixItems as JSONSchema[] | undefined
      cur = prefix?.[seg] ?? (s.items as JSONSchema | undefined)
      if (cur === undefined || cur === false) return { found: false, at }
      continue
    }
    if (seg === 'length' && (s.type === 'array' || s.type === 'string')) {
      cur = { type: 'integer', minimum: 0 }
      continue
    }
    const props = s.properties as Record<string, JSONSchema> | undefined
    if (props && seg in props) {
      cur = props[seg]
      if (!((s.required ?? []) as string[]).includes(seg)) optional = true
      continue
    }
    if (isObj(s.additionalProperties as JSONSchema)) {
      cur = s.additionalProperties as JSONSchema
      optional = true
      continue
    }
    if (props || s.additionalProperties === false || (s.type !== undefined && s.type !== 'object'))
      return { found: false, at }
    return { found: true, schema: undefined, optional: true }
  }
  return { found: true, schema: cur, optional }
}

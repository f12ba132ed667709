import { WorkflowDefinitionError } from './errors.js'

export type PathSegment = string | number

/** A declarative mapping, recorded once from the user's selector: what the step receives, built from paths. */
export type Selection =
  | { readonly kind: 'input'; readonly path: readonly PathSegment[] }
  | { readonly kind: 'item'; readonly path: readonly PathSegment[] }
  | { readonly kind: 'index' }
  | {
      readonly kind: 'step'
      readonly name: string
      readonly key: string
      readonly path: readonly PathSegment[]
    }
  | { readonly kind: 'object'; readonly entries: readonly (readonly [string, Selection])[] }
  | { readonly kind: 'array'; readonly items: readonly Selection[] }
  | { readonly kind: 'const'; readonly value: unknown }

/** What a selection reads at run time. `outputs` may chain prototypes (map items see the outer outputs). */
export type Env = {
  readonly input: unknown
  readonly outputs: Readonly<Record<string, unknown>>
  readonly item?: unknown
  readonly index?: number
}

const PATH = Symbol('tributary.path')

type Recorded = { readonly [PATH]: readonly PathSegment[] }

const misuse = (what: string) =>
  new WorkflowDefinitionError(
    `a step mapping ${what}; mappings only select fields of the input and earlier outputs (e.g. $ => ({ text: $.steps.ocr.text })). Compute values in a fn() step instead.`,
  )

function pathProxy(path: readonly PathSegment[]): unknown {
  const target = { [PATH]: path } as Recorded
  return new Proxy(target, {
    get(t, prop) {
      if (prop === PATH) return t[PATH]
      if (typeof prop === 'symbol') throw misuse('converts a selected value to a primitive or iterates it')
      if (prop === 'then') return undefined
      return pathProxy([...path, /^(0|[1-9]\d*)$/.test(prop) ? Number(prop) : prop])
    },
    ownKeys() {
      throw misuse('spreads or enumerates a selected value')
    },
    has() {
      throw misuse('tests a selected value with `in`')
    },
    set() {
      throw misuse('assigns to a selected value')
    },
  })
}

const isRecorded = (v: unknown): v is Recorded =>
  (typeof v === 'object' || typeof v === 'function') && v !== null && (v as Recorded)[PATH] !== undefined

/**
 * Runs a user's mapping once against a recording proxy and returns the selection it describes, with step names
 * resolved to output keys through `resolveStep`.
 */
export function recordSelection(
  map: (scope: never) => unknown,
  resolveStep: (name: string) => string | undefined,
): Selection {
  let result: unknown
  try {
    result = map(pathProxy([]) as never)
  } catch (e) {
    if (e instanceof WorkflowDefinitionError) throw e
    throw misuse(`threw while being recorded (${e instanceof Error ? e.message : String(e)})`)
  }
  return toSelection(result, resolveStep)
}

function toSelection(v: unknown, resolveStep: (name: string) => string | undefined): Selection {
  if (isRecorded(v)) {
    const path = v[PATH]
    const [root, ...rest] = path
    if (root === 'input') return { kind: 'input', path: rest }
    if (root === 'item') return { kind: 'item', path: rest }
    if (root === 'index' && rest.length === 0) return { kind: 'index' }
    if (root === 'steps') {
      const [name, ...inner] = rest
      if (typeof name !== 'string') throw misuse('selects the whole `steps` object')
      const key = resolveStep(name)
      if (key === undefined)
        throw new WorkflowDefinitionError(
          `a mapping reads step "${name}", which is not an earlier step visible here; map from a step that runs before this one.`,
        )
      return { kind: 'step', name, key, path: inner }
    }
    throw misuse(`reads "${String(root)}", which is not input, steps, item or index`)
  }
  if (Array.isArray(v)) return { kind: 'array', items: v.map((x) => toSelection(x, resolveStep)) }
  if (v !== null && typeof v === 'object') {
    const proto = Object.getPrototypeOf(v)
    if (proto !== Object.prototype && proto !== null) throw misuse('returns a class instance')
    return {
      kind: 'object',
      entries: Object.entries(v).map(([k, x]) => [k, toSelection(x, resolveStep)] as const),
    }
  }
  if (typeof v === 'function') throw misuse('returns a function')
  return { kind: 'const', value: v }
}

function getPath(value: unknown, path: readonly PathSegment[]): unknown {
  let cur = value
  for (let i = 0; i < path.length; i++) {
    if (cur === null || cur === undefined) return undefined
    cur = (cur as Record<PathSegment, unknown>)[path[i] as PathSegment]
  }
  return cur
}

/** Compiles a selection into a plain function; no validation on this hot path (the planner checked types). */
export function compileSelection(sel: Selection): (env: Env) => unknown {
  switch (sel.kind) {
    case 'input':
      return sel.path.length === 0 ? (env) => env.input : (env) => getPath(env.input, sel.path)
    case 'item':
      return sel.path.length === 0 ? (env) => env.item : (env) => getPath(env.item, sel.path)
    case 'index':
      return (env) => env.index
    case 'step': {
      const { key, path } = sel
      return path.length === 0 ? (env) => env.outputs[key] : (env) => getPath(env.outputs[key], path)
    }
    case 'const': {
      const value = sel.value
      return () => value
    }
    case 'array': {
      const items = sel.items.map(compileSelection)
      return (env) => items.map((f) => f(env))
    }
    case 'object': {
      const entries = sel.entries.map(([k, s]) => [k, compileSelection(s)] as const)
      return (env) => {
        const out: Record<string, unknown> = {}
        for (const [k, f] of entries) {
          const v = f(env)
          if (v !== undefined) out[k] = v
        }
        return out
      }
    }
  }
}

/** A readable form of a selection, for plans. */
export function formatSelection(sel: Selection): string {
  const p = (path: readonly PathSegment[]) =>
    path.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('')
  switch (sel.kind) {
    case 'input':
      return `$.input${p(sel.path)}`
    case 'item':
      return `$.item${p(sel.path)}`
    case 'index':
      return '$.index'
    case 'step':
      return `$.steps.${sel.name}${p(sel.path)}`
    case 'const':
      return JSON.stringify(sel.value) ?? 'undefined'
    case 'array':
      return `[${sel.items.map(formatSelection).join(', ')}]`
    case 'object':
      return `{ ${sel.entries.map(([k, s]) => `${k}: ${formatSelection(s)}`).join(', ')} }`
  }
}

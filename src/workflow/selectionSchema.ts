import { type PathSegment, schemaAtPath } from '../market/jsonSchema.js'
import type { Selection } from './selection.js'
import type { JSONSchema } from './types.js'

/** What a selection produces, as a JSON Schema, given the schemas of its sources. */
export function selectionSchema(
  sel: Selection,
  sources: {
    readonly input: JSONSchema | undefined
    readonly item: JSONSchema | undefined
    readonly step: (key: string) => JSONSchema | undefined
  },
  missing: (at: string) => void,
): { schema: JSONSchema | undefined; optional: boolean } {
  const walk = (root: JSONSchema | undefined, path: readonly PathSegment[], prefix: string) => {
    const r = schemaAtPath(root, path)
    if (!r.found) {
      missing(`${prefix}${r.at}`)
      return { schema: undefined, optional: false }
    }
    return { schema: r.schema, optional: r.optional }
  }
  switch (sel.kind) {
    case 'input':
      return walk(sources.input, sel.path, '$.input')
    case 'item':
      return walk(sources.item, sel.path, '$.item')
    case 'index':
      return { schema: { type: 'integer', minimum: 0 }, optional: false }
    case 'step':
      return walk(sources.step(sel.key), sel.path, `$.steps.${sel.name}`)
    case 'const':
      return {
        schema: sel.value === undefined ? {} : { const: sel.value },
        optional: sel.value === undefined,
      }
    case 'array': {
      const items = sel.items.map((i) => selectionSchema(i, sources, missing).schema ?? {})
      return { schema: { type: 'array', prefixItems: items, items: false }, optional: false }
    }
    case 'object': {
      const properties: Record<string, JSONSchema> = {}
      const required: string[] = []
      for (const [k, s] of sel.entries) {
        const r = selectionSchema(s, sources, missing)
        properties[k] = r.schema ?? {}
        if (!r.optional) required.push(k)
      }
      return {
        schema: { type: 'object', properties, required, additionalProperties: false },
        optional: false,
      }
    }
  }
}

import { isCapabilityQuery } from '../market/directory.js'
import { parseRange } from '../market/semver.js'
import { WorkflowDefinitionError } from './errors.js'
import type { ModelIdRef, ModelRef } from './types.js'

/**
 * Parses `'owner/name@range'` (range defaults to `*`) into `{ id, range }`; a capability query passes through.
 *
 * @example
 * ```ts
 * parseModelRef('acme/ocr@^1.2') // { id: 'acme/ocr', range: '^1.2' }
 * ```
 */
export function parseModelRef(ref: string | ModelRef): ModelRef {
  if (typeof ref !== 'string') return ref
  const at = ref.lastIndexOf('@')
  const id = at > 0 ? ref.slice(0, at) : ref
  const range = at > 0 ? ref.slice(at + 1) : '*'
  if (!id || !parseRange(range))
    throw new WorkflowDefinitionError(
      `"${ref}" is not a model reference; write "owner/name@<semver range>", e.g. "acme/ocr@^1.2".`,
    )
  return { id, range }
}

export { isCapabilityQuery }

/**
 * A readable form of a reference, for messages and plans.
 *
 * @example
 * ```ts
 * formatModelRef({ capability: 'ocr', maxPricePerCall: 5n }) // '{capability=ocr, maxPricePerCall=5}'
 * ```
 */
export function formatModelRef(ref: ModelRef): string {
  if (!isCapabilityQuery(ref)) return `${(ref as ModelIdRef).id}@${(ref as ModelIdRef).range}`
  const parts = [`capability=${ref.capability}`]
  if (ref.maxPricePerCall !== undefined) parts.push(`maxPricePerCall=${ref.maxPricePerCall}`)
  if (ref.range) parts.push(`range=${ref.range}`)
  if (ref.token) parts.push(`token=${ref.token}`)
  if (ref.alsoCapabilities?.length) parts.push(`also=${ref.alsoCapabilities.join('+')}`)
  return `{${parts.join(', ')}}`
}

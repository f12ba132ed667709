import type { Address } from 'viem'

/** A JSON Schema document (draft 2020-12, as `z.toJSONSchema` produces). Kept open on purpose. */
export type JSONSchema = { readonly [key: string]: unknown } | boolean

/** A model named by its marketplace id and a semver range, parsed from `'acme/ocr@^1.2'`. */
export type ModelIdRef = { readonly id: string; readonly range: string }

/** A model found by what it can do, within constraints. */
export type CapabilityQuery = {
  readonly capability: string
  /** Refuse models that charge more than this per call (token base units). */
  readonly maxPricePerCall?: bigint
  /** Only models paid in this token. */
  readonly token?: Address
  /** Only versions in this semver range. */
  readonly range?: string
  /** Every one of these capabilities must be listed too. */
  readonly alsoCapabilities?: readonly string[]
}

/** What a workflow step names: an id with a range, or a capability query. */
export type ModelRef = ModelIdRef | CapabilityQuery

/** A model as the marketplace lists it, pinned to one version. */
export type ResolvedModel = {
  readonly assetId: bigint
  readonly id: string
  readonly version: string
  readonly capabilities: readonly string[]
  readonly inputSchema: JSONSchema
  readonly outputSchema: JSONSchema
  readonly pricePerCall: bigint
  readonly token: Address
  readonly endpoint?: string
}

/** Resolves model references. The in-memory `createStaticDirectory` and the marketplace index implement it. */
export type ModelDirectory = {
  /** The best listed model for `ref`, or `undefined` when none fits. */
  resolve(ref: ModelRef): Promise<ResolvedModel | undefined> | ResolvedModel | undefined
}

/**
 * Whether a reference is a capability query.
 *
 * @example
 * ```ts
 * isCapabilityQuery({ capability: 'ocr' }) // true
 * ```
 */
export const isCapabilityQuery = (ref: ModelRef): ref is CapabilityQuery => 'capability' in ref

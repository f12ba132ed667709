import type { Address } from 'viem'
import { z } from 'zod'
import { BaseError } from '../errors/base.js'

/** A payee of an asset and its share of the asset's revenue in basis points. */
export type Payee = { address: Address; shareBps: number }

/** What using an asset costs. Amounts are token units (bigint). */
export type AssetTerms = {
  /** The payment token (allow-listed on the ledger). May be omitted for a free, listing-only dataset. */
  token?: Address | undefined
  pricePerCall: bigint
  /** A flat fee for a period of use (optional). */
  flatFee?: bigint | undefined
  flatPeriodSeconds?: number | undefined
}

/** Parameters failed validation before anything was sent to the chain. */
export class InvalidAssetParametersError extends BaseError {
  override name = 'InvalidAssetParametersError' as const
}

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'a 0x-prefixed 20-byte hex address')
const uint96 = z
  .bigint()
  .nonnegative()
  .max((1n << 96n) - 1n)

export const payeesSchema = z
  .array(z.object({ address, shareBps: z.number().int().min(1).max(10_000) }))
  .min(1, 'at least one payee')
  .max(8, 'at most 8 payees')
  .refine((p) => p.reduce((s, x) => s + x.shareBps, 0) === 10_000, 'shares must sum to 10 000 bps')
  .refine((p) => new Set(p.map((x) => x.address.toLowerCase())).size === p.length, 'payees must be distinct')

export const termsSchema = z
  .object({
    token: address.optional(),
    pricePerCall: uint96,
    flatFee: uint96.optional(),
    flatPeriodSeconds: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .optional(),
  })
  .refine((t) => !!t.token || (t.pricePerCall === 0n && !t.flatFee), 'a paid asset needs a payment token')
  .refine((t) => !t.flatFee || (t.flatPeriodSeconds ?? 0) > 0, 'a flat fee needs flatPeriodSeconds')

/** Parses with a schema or throws a typed error listing every issue. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value)
  if (r.success) return r.data
  throw new InvalidAssetParametersError(`${what} are invalid`, {
    metaMessages: r.error.issues.map((i) => `- ${i.path.join('.') || '(root)'}: ${i.message}`),
  })
}

/** The registry's Terms struct. */
export function toChainTerms(t: AssetTerms) {
  return {
    token: t.token ?? ('0x0000000000000000000000000000000000000000' as Address),
    pricePerCall: t.pricePerCall,
    flatFee: t.flatFee ?? 0n,
    flatPeriod: t.flatPeriodSeconds ?? 0,
  }
}

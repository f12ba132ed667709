import { type Address, type Hex, isAddress, keccak256, stringToBytes } from 'viem'
import * as z from 'zod'
import { BaseError } from '../errors/base.js'
import { formatIssues, type ValidationIssue } from '../errors/issues.js'

/** The card format this module writes and reads. */
export const CARD_SCHEMA = 'tributary.card/1' as const

/** Registry bounds, mirrored from `ModelRegistry.sol` so a definition fails early and locally. */
export const LIMITS = {
  maxPayees: 8,
  maxParents: 8,
  maxRoyaltyBps: 5_000,
  bps: 10_000,
  maxUint96: 2n ** 96n - 1n,
  maxUint32: 2 ** 32 - 1,
  maxCapabilities: 16,
  maxDescription: 2_000,
} as const

/** `publisher/name`, lower case: `tributary/sentiment`. */
export const MODEL_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}\/[a-z0-9][a-z0-9._-]{0,63}$/
/** Semantic version: `1.2.3` or `1.2.3-beta.1`. */
export const VERSION_PATTERN = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$/
/** A capability tag: `ocr`, `text.sentiment`, `text/summarize`. */
export const CAPABILITY_PATTERN = /^[a-z0-9][a-z0-9._/-]{0,63}$/
const DECIMAL_PATTERN = /^(0|[1-9]\d{0,77})$/

/** Whether an asset can be called (`model`) or is only listed so derivatives can name it (`dataset`). */
export type ModelKind = 'model' | 'dataset'

/** One payee of a model and its share of the model's revenue, in basis points. */
export type Payee = { address: Address; shareBps: number }

/**
 * A model's commercial terms. Amounts are token base units (a 6-decimal stablecoin: `2_000n` = 0.002).
 * `token: 'default'` means the marketplace's default stablecoin, resolved at publish time.
 */
export type ModelTerms = {
  token?: Address | 'default' | undefined
  pricePerCall: bigint
  flatFee?: bigint | undefined
  flatPeriodSeconds?: number | undefined
  payees: readonly Payee[]
  /** What any derivative, direct or transitive, owes this model: basis points of the derivative's revenue. */
  royaltyBps: number
}

/** {@link ModelTerms} as they appear in a card: amounts as decimal strings, every field present. */
export type CardTerms = {
  token: Address | 'default'
  pricePerCall: string
  flatFee: string
  flatPeriodSeconds: number
  payees: Payee[]
  royaltyBps: number
}

/** A JSON Schema document as produced by `z.toJSONSchema`. */
export type JsonSchema = { [key: string]: unknown }

/** The public, hashable description of a model: what it does, what it takes and returns, what it costs. */
export type Card = {
  schema: typeof CARD_SCHEMA
  id: string
  version: string
  kind: ModelKind
  description: string
  capabilities: string[]
  input?: JsonSchema | undefined
  output?: JsonSchema | undefined
  terms: CardTerms
  lineage: { parents: string[] }
  endpoint?: string | undefined
}

type IssueSink = { addIssue(issue: { code: 'custom'; message: string; path: PropertyKey[] }): void }

type TermsLike = {
  token?: string | undefined
  pricePerCall: bigint
  flatFee?: bigint | undefined
  flatPeriodSeconds?: number | undefined
  payees: readonly { address: string; shareBps: number }[]
  royaltyBps: number
}

/**
 * Checks terms against the registry's rules and reports every problem to `ctx` (a zod refinement
 * context or any collector). Shared by {@link defineModel} and {@link cardSchema} so both accept exactly
 * the same terms.
 */
export function checkTerms(t: TermsLike, ctx: IssueSink, base: PropertyKey[] = []): void {
  const issue = (path: PropertyKey[], message: string) =>
    ctx.addIssue({ code: 'custom', message, path: [...base, ...path] })
  if (t.token !== undefined && t.token !== 'default' && !isAddress(t.token, { strict: false }))
    issue(['token'], `token must be an address or 'default', got ${JSON.stringify(t.token)}`)
  if (t.pricePerCall < 0n || t.pricePerCall > LIMITS.maxUint96)
    issue(['pricePerCall'], 'pricePerCall must be between 0 and 2^96-1 token units')
  const flatFee = t.flatFee ?? 0n
  const period = t.flatPeriodSeconds ?? 0
  if (flatFee < 0n || flatFee > LIMITS.maxUint96) issue(['flatFee'], 'flatFee must be between 0 and 2^96-1')
  if (!Number.isInteger(period) || period < 0 || period > LIMITS.maxUint32)
    issue(['flatPeriodSeconds'], 'flatPeriodSeconds must be an integer between 0 and 2^32-1')
  if (flatFee > 0n && period === 0) issue(['flatPeriodSeconds'], 'a flat fee needs flatPeriodSeconds > 0')
  if (flatFee === 0n && period !== 0) issue(['flatFee'], 'flatPeriodSeconds is set but flatFee is 0')
  if (!Number.isInteger(t.royaltyBps) || t.royaltyBps < 0 || t.royaltyBps > LIMITS.maxRoyaltyBps)
    issue(['royaltyBps'], `royaltyBps must be an integer between 0 and ${LIMITS.maxRoyaltyBps}`)
  const n = t.payees.length
  if (n === 0 || n > LIMITS.maxPayees)
    issue(['payees'], `between 1 and ${LIMITS.maxPayees} payees are required, got ${n}`)
  let sum = 0
  const seen = new Set<string>()
  t.payees.forEach((p, i) => {
    if (!isAddress(p.address, { strict: false })) issue(['payees', i, 'address'], 'not an address')
    else if (/^0x0{40}$/i.test(p.address)) issue(['payees', i, 'address'], 'the zero address cannot be paid')
    else if (seen.has(p.address.toLowerCase())) issue(['payees', i, 'address'], 'duplicate payee')
    seen.add(p.address.toLowerCase())
    if (!Number.isInteger(p.shareBps) || p.shareBps <= 0 || p.shareBps > LIMITS.bps)
      issue(['payees', i, 'shareBps'], 'shareBps must be an integer between 1 and 10000')
    sum += p.shareBps
  })
  if (n > 0 && sum !== LIMITS.bps) issue(['payees'], `payee shares must sum to 10000 bps, got ${sum}`)
}

/**
 * Writes terms in card form: amounts as decimal strings, defaults made explicit.
 *
 * @example
 * ```ts
 * termsToCard({ pricePerCall: 2_000n, payees: [{ address, shareBps: 10_000 }], royaltyBps: 1_000 })
 * // { token: 'default', pricePerCall: '2000', flatFee: '0', flatPeriodSeconds: 0, payees: [...], royaltyBps: 1000 }
 * ```
 */
export function termsToCard(terms: ModelTerms): CardTerms {
  return {
    token: terms.token ?? 'default',
    pricePerCall: terms.pricePerCall.toString(),
    flatFee: (terms.flatFee ?? 0n).toString(),
    flatPeriodSeconds: terms.flatPeriodSeconds ?? 0,
    payees: terms.payees.map((p) => ({ address: p.address, shareBps: p.shareBps })),
    royaltyBps: terms.royaltyBps,
  }
}

/**
 * Reads card terms back into bigint amounts.
 *
 * @example
 * ```ts
 * const { pricePerCall } = termsFromCard(card.terms) // 2000n
 * ```
 */
export function termsFromCard(terms: CardTerms): ModelTerms {
  return {
    token: terms.token,
    pricePerCall: BigInt(terms.pricePerCall),
    flatFee: BigInt(terms.flatFee),
    flatPeriodSeconds: terms.flatPeriodSeconds,
    payees: terms.payees.map((p) => ({ address: p.address, shareBps: p.shareBps })),
    royaltyBps: terms.royaltyBps,
  }
}

const decimal = z.string().regex(DECIMAL_PATTERN, 'must be a non-negative integer as a decimal string')
const address = z.string().refine((s) => isAddress(s, { strict: false }), 'must be a 0x-prefixed address')

const cardTermsSchema = z
  .object({
    token: z.union([z.literal('default'), address]),
    pricePerCall: decimal,
    flatFee: decimal,
    flatPeriodSeconds: z.number().int().nonnegative(),
    payees: z.array(z.object({ address, shareBps: z.number().int() }).strict()).max(LIMITS.maxPayees),
    royaltyBps: z.number().int(),
  })
  .strict()
  .superRefine((t, ctx) => {
    // Malformed amounts were already reported by the field schemas; check the rest with 0.
    const amount = (s: string) => (DECIMAL_PATTERN.test(s) ? BigInt(s) : 0n)
    checkTerms(
      {
        pricePerCall: amount(t.pricePerCall),
        flatFee: amount(t.flatFee),
        flatPeriodSeconds: t.flatPeriodSeconds,
        payees: t.payees,
        royaltyBps: t.royaltyBps,
      },
      ctx,
    )
  })

const jsonSchemaObject = z.record(z.string(), z.unknown())

/**
 * Validates an untrusted card (fetched by the discovery index, received by a client). Parsing returns
 * the card unchanged, so its hash can be checked with {@link hashCard} against the on-chain hash.
 *
 * @example
 * ```ts
 * const r = cardSchema.safeParse(await res.json())
 * if (!r.success) console.error(z.prettifyError(r.error))
 * ```
 */
export const cardSchema = z
  .object({
    schema: z.literal(CARD_SCHEMA),
    id: z.string().regex(MODEL_ID_PATTERN, "must look like 'publisher/name' (lower case)"),
    version: z.string().regex(VERSION_PATTERN, 'must be a semantic version such as 1.0.0'),
    kind: z.enum(['model', 'dataset']),
    description: z.string().max(LIMITS.maxDescription),
    capabilities: z
      .array(z.string().regex(CAPABILITY_PATTERN, 'capability tags are lower case: text.sentiment'))
      .max(LIMITS.maxCapabilities),
    input: jsonSchemaObject.optional(),
    output: jsonSchemaObject.optional(),
    terms: cardTermsSchema,
    lineage: z
      .object({
        parents: z.array(z.string().regex(MODEL_ID_PATTERN, "parent ids look like 'publisher/name'")),
      })
      .strict(),
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
  })
  .strict()
  .superRefine((card, ctx) => {
    if (card.kind === 'model') {
      if (!card.input)
        ctx.addIssue({ code: 'custom', path: ['input'], message: 'a model card needs an input schema' })
      if (!card.output)
        ctx.addIssue({ code: 'custom', path: ['output'], message: 'a model card needs an output schema' })
    }
    const parents = card.lineage.parents
    if (parents.length > LIMITS.maxParents)
      ctx.addIssue({
        code: 'custom',
        path: ['lineage', 'parents'],
        message: `at most ${LIMITS.maxParents} parents`,
      })
    if (new Set(parents).size !== parents.length)
      ctx.addIssue({ code: 'custom', path: ['lineage', 'parents'], message: 'duplicate parent' })
    if (parents.includes(card.id))
      ctx.addIssue({
        code: 'custom',
        path: ['lineage', 'parents'],
        message: 'a model cannot be its own parent',
      })
  })

/**
 * Parses an untrusted card, throwing {@link InvalidCardError} with every issue when it is invalid.
 *
 * @example
 * ```ts
 * const card = parseCard(await res.json(), { source: url })
 * if (hashCard(card) !== onchainHash) throw new Error('card hash mismatch')
 * ```
 */
export function parseCard(value: unknown, options: { source?: string } = {}): Card {
  const r = cardSchema.safeParse(value)
  if (!r.success) throw new InvalidCardError({ issues: r.error.issues, source: options.source })
  // The parsed object is the input itself minus nothing (strict objects), so the hash is preserved.
  return r.data as Card
}

/**
 * Canonical JSON: object keys sorted recursively (by UTF-16 code units, as RFC 8785), no whitespace,
 * `undefined` object members dropped. For the values a card holds (strings, integers, booleans, null,
 * arrays, plain objects) this equals RFC 8785 (JCS). Throws on bigint, functions, symbols, non-finite
 * numbers and cycles, so a hash is never computed over something JSON cannot carry.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [true, { d: null, c: 'x' }] }) // '{"a":[true,{"c":"x","d":null}],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  const stack = new Set<object>()
  const write = (v: unknown, path: string): string => {
    if (v === null) return 'null'
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return JSON.stringify(v)
      case 'number':
        if (!Number.isFinite(v)) throw new NonCanonicalJsonError({ path, reason: `non-finite number ${v}` })
        return JSON.stringify(v)
      case 'object': {
        if (stack.has(v)) throw new NonCanonicalJsonError({ path, reason: 'cycle' })
        stack.add(v)
        let out: string
        if (Array.isArray(v)) {
          out = `[${v.map((x, i) => (x === undefined ? 'null' : write(x, `${path}[${i}]`))).join(',')}]`
        } else {
          const proto = Object.getPrototypeOf(v)
          if (proto !== Object.prototype && proto !== null)
            throw new NonCanonicalJsonError({
              path,
              reason: `not a plain object (${proto?.constructor?.name})`,
            })
          const rec = v as Record<string, unknown>
          const keys = Object.keys(rec)
            .filter((k) => rec[k] !== undefined)
            .sort()
          out = `{${keys.map((k) => `${JSON.stringify(k)}:${write(rec[k], path ? `${path}.${k}` : k)}`).join(',')}}`
        }
        stack.delete(v)
        return out
      }
      default:
        throw new NonCanonicalJsonError({ path, reason: `${typeof v} is not JSON` })
    }
  }
  return write(value, '')
}

/**
 * The card hash registered on-chain: keccak256 of the card's canonical JSON (UTF-8).
 * Providers, publishers and the discovery index all compute it with this function.
 *
 * @example
 * ```ts
 * const hash = hashCard(definition.card) // 0x…
 * ```
 */
export function hashCard(card: Card | Record<string, unknown>): Hex {
  return keccak256(stringToBytes(canonicalJson(card)))
}

/** An untrusted card failed validation. */
export class InvalidCardError extends BaseError {
  override name = 'InvalidCardError' as const
  readonly issues: readonly ValidationIssue[]
  constructor({ issues, source }: { issues: readonly ValidationIssue[]; source?: string | undefined }) {
    super(
      `card${source ? ` from ${source}` : ''} is not a valid tributary.card/1 document; the publisher must fix it`,
      { metaMessages: formatIssues(issues) },
    )
    this.issues = issues
  }
}

/** A value cannot be written as canonical JSON (bigint, function, non-finite number, cycle…). */
export class NonCanonicalJsonError extends BaseError {
  override name = 'NonCanonicalJsonError' as const
  constructor({ path, reason }: { path: string; reason: string }) {
    super(
      `cannot write canonical JSON at ${path || '(root)'}: ${reason}; convert it to a JSON value first (amounts as decimal strings)`,
    )
  }
}

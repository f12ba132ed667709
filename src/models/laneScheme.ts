import type { Address, Hex } from 'viem'
import { canonicalJson } from '../market/card.js'
import { keccak256Hex } from '../pay/keccak.js'

/** The x402 payment scheme tributary providers speak: cumulative vouchers on an escrowed license lane. */
export const LANE_SCHEME = 'tributary-lane' as const
/** The x402 protocol version of the headers. */
export const X402_VERSION = 2 as const

/** Request header carrying the payment (base64 JSON {@link LanePaymentPayload}). */
export const PAYMENT_SIGNATURE_HEADER = 'payment-signature'
/** Response header of a 402 carrying the requirements (base64 JSON {@link LanePaymentRequired}). */
export const PAYMENT_REQUIRED_HEADER = 'payment-required'
/** Response header of a paid call carrying the signed receipt (base64 JSON {@link LanePaymentResponse}). */
export const PAYMENT_RESPONSE_HEADER = 'payment-response'
/** Request header naming one logical call, so that retries are answered once and charged once. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key'

/** The immutable key of a lane as the payment header carries it (amounts as decimal strings). */
export type WireLaneKey = {
  payer: Address
  token: Address
  modelId: string
  termsVersion: number
  seq: string
  lineageHash: Hex
}

/** The payment a client sends with a call: a voucher on a lane. */
export type LanePaymentPayload = {
  x402Version: typeof X402_VERSION
  scheme: typeof LANE_SCHEME
  /** CAIP-2, `eip155:<chainId>`. */
  network: string
  payload: {
    ledger: Address
    laneId: Hex
    /** The cumulative amount the payer owes on the lane, this call included (decimal string). */
    cumulative: string
    /**
     * The payer's EIP-712 signature: of `Voucher(bytes32 laneId,uint256 cumulative)` for a voucher signed
     * alone, or of `Vouchers(bytes32 root)` for one signed in a batch (then `proof` leads to `root`).
     */
    signature: Hex
    /** For a voucher signed in a batch: its sorted-pair Merkle proof (the leaf is the voucher's struct hash). */
    proof?: Hex[]
    lane: WireLaneKey
  }
}

/** A lane as the provider accounts for it (amounts as decimal strings). */
export type WireLaneStatus = {
  laneId: Hex
  /** Sum of the prices of the successful calls on the lane (never below what was claimed on-chain). */
  charged: string
  /** Prices of calls running now. */
  inflight: string
  /** The highest voucher the provider holds. */
  highestVoucher: string
  /** The smallest cumulative amount the next voucher on this lane must carry. */
  required: string
  cap: string
  claimed: string
  expiresAt: number
  pricePerCall: string
}

/** One way to pay, in x402 `accepts` shape plus tributary's fields. */
export type LaneRequirements = {
  scheme: typeof LANE_SCHEME
  network: string
  chainId: number
  /** The payment token (x402 `asset`). */
  asset: Address
  /** Price of one call in token units (x402 `amount`). */
  amount: string
  /** Who signs receipts and redeems vouchers: the provider. */
  payTo: Address
  maxTimeoutSeconds: number
  ledger: Address
  registry: Address
  assetId: string
  model: string
  version: string
  termsVersion: number
}

/** The 402 body (and, base64, the `PAYMENT-REQUIRED` header). */
export type LanePaymentRequired = {
  x402Version: typeof X402_VERSION
  error: string
  code: PaymentErrorCode
  resource: { url: string; description: string; mimeType: 'application/json' }
  accepts: LaneRequirements[]
  lane?: WireLaneStatus | undefined
  /** What the client should do next, in words. */
  hint: string
}

/** The receipt of a paid call as it travels (amounts as decimal strings). */
export type WireCallReceipt = {
  laneId: Hex
  assetId: string
  model: string
  version: string
  inputHash: Hex
  outputHash: Hex
  amount: string
  cumulative: string
  voucher: string
}

/** The `PAYMENT-RESPONSE` header of a paid call. */
export type LanePaymentResponse = {
  x402Version: typeof X402_VERSION
  scheme: typeof LANE_SCHEME
  success: true
  network: string
  payer: Address
  /** The address that signed the receipt. */
  provider: Address
  receipt: WireCallReceipt
  /** The provider's EIP-712 `CallReceipts(bytes32 root)` signature over the batch the receipt was signed in. */
  signature: Hex
  /** The receipt's sorted-pair Merkle proof up to that root (empty when it was signed alone). */
  proof: Hex[]
}

/** Why a call was refused or failed, as the `code` of every JSON error body. */
export type PaymentErrorCode =
  | 'payment_required'
  | 'invalid_payment'
  | 'wrong_network'
  | 'unknown_lane'
  | 'wrong_lane'
  | 'lane_closed'
  | 'lane_expired'
  | 'lane_exhausted'
  | 'invalid_signature'
  | 'voucher_too_small'
  | 'voucher_replayed'
  | 'voucher_stale'
  | 'model_not_listed'

/**
 * Whether a text is all ASCII: its UTF-8 takes one byte per UTF-16 unit exactly when it is (any other character takes
 * two bytes or more, a surrogate pair four). Node counts UTF-8 bytes natively, several times faster than a regular
 * expression scans the text, and both payment headers (about 1 KB each) are checked on every paid call.
 */
const isAscii = (text: string) => Buffer.byteLength(text, 'utf8') === text.length

/**
 * base64 of a text's UTF-8 bytes. ASCII text (every payment and receipt header) goes through `btoa`,
 * which Node implements natively and which costs a fraction of a Buffer round trip; other text through
 * Buffer, since `btoa` would write it as Latin-1.
 *
 * @example
 * ```ts
 * base64Utf8('{"x402Version":2}') // 'eyJ4NDAyVmVyc2lvbiI6Mn0='
 * ```
 */
export function base64Utf8(text: string): string {
  return isAscii(text) ? btoa(text) : Buffer.from(text, 'utf8').toString('base64')
}

/**
 * base64 of a value's JSON: how x402 headers carry their objects.
 *
 * @example
 * ```ts
 * res.setHeader('payment-required', encodeHeader(requirements))
 * ```
 */
export function encodeHeader(value: unknown): string {
  return base64Utf8(JSON.stringify(value))
}

/**
 * Reads a base64 JSON header; undefined when it is not one.
 *
 * @example
 * ```ts
 * const receipt = decodeHeader(res.headers.get('payment-response') ?? '') as LanePaymentResponse | undefined
 * ```
 */
export function decodeHeader(value: string): unknown {
  const text = decodeHeaderText(value)
  if (text === undefined) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * The UTF-8 text of a base64 header, before it is read as JSON; undefined when it is not base64.
 *
 * @example
 * ```ts
 * decodeHeaderText('eyJ4NDAyVmVyc2lvbiI6Mn0=') // '{"x402Version":2}'
 * ```
 */
export function decodeHeaderText(value: string): string | undefined {
  try {
    // native and strict; its output is one character per byte, so UTF-8 beyond ASCII is decoded again
    const text = atob(value)
    return isAscii(text) ? text : Buffer.from(text, 'latin1').toString('utf8')
  } catch {
    // what atob refuses (base64url, stray characters) Buffer still reads, as before
    try {
      return Buffer.from(value, 'base64').toString('utf8')
    } catch {
      return undefined
    }
  }
}

/**
 * keccak256 of a JSON value's canonical form: the input and output hashes of receipts.
 *
 * @example
 * ```ts
 * hashJson({ text: 'hi' }) === receipt.inputHash
 * ```
 */
export function hashJson(value: unknown): Hex {
  return keccak256Hex(Buffer.from(canonicalJson(value), 'utf8'))
}

/** `eip155:<chainId>`. */
export const caip2 = (chainId: number) => `eip155:${chainId}`

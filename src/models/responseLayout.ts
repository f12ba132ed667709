import type { Hex } from 'viem'
import { MAX_PROOF } from '../pay/merkle.js'
import { type LanePaymentResponse, type WireCallReceipt, X402_VERSION } from './laneScheme.js'
import { DECIMAL_30, HEX_32, HEX_65 } from './paymentLayout.js'

// The client reads a PAYMENT-RESPONSE on every paid call, and JSON.parse of its ~1 KB was its largest item after the
// signatures. A provider writes the same text for every call on a lane but for the input and output hashes, the
// three amounts, the signature and the proof: everything before the input hash is learnt from a response parsed in
// full whose receipt verified, and a later response that starts with exactly that text, and writes the rest the way
// JSON.stringify does, is read by slicing out those fields and checking their format. Anything else (another layout,
// whitespace, escapes, another lane or model) goes through JSON.parse and the full check.

/** The response's fields that stay the same call after call on one lane. */
type Head = Omit<LanePaymentResponse, 'receipt' | 'signature' | 'proof'> & {
  receipt: Pick<WireCallReceipt, 'laneId' | 'assetId' | 'model' | 'version'>
}

const INPUT = '","inputHash":"'
const OUTPUT = '","outputHash":"'
const AMOUNT = '","amount":"'
const CUMULATIVE = '","cumulative":"'
const VOUCHER = '","voucher":"'
const SIGNATURE = '"},"signature":"'
const PROOF = '","proof":['
const LEARNT = 1_024
const heads = new Map<string, Readonly<Head>>()

/** The decimal string from `at` to the next quote, when it is 1 to 30 digits. */
function decimalAt(text: string, at: number): string | undefined {
  const end = text.indexOf('"', at)
  if (end < 0) return undefined
  const d = text.slice(at, end)
  return DECIMAL_30.test(d) ? d : undefined
}

/**
 * The response a PAYMENT-RESPONSE text holds, when its head was learnt from an earlier response of the same lane and
 * model (see {@link learnResponseLayout}); undefined otherwise (parse it in full then). What it returns is what
 * JSON.parse returns for the text; the receipt's amounts are decimal strings and its hashes, signature and proof hex,
 * all checked for format (the caller still checks what they say).
 *
 * @example
 * ```ts
 * const response = readKnownResponse(text) ?? JSON.parse(text)
 * ```
 */
export function readKnownResponse(text: string): LanePaymentResponse | undefined {
  const at = text.indexOf(INPUT)
  if (at < 0) return undefined
  const head = heads.get(text.slice(0, at))
  return head && readFields(text, at, head)
}

/** The response of a text whose head (up to `at`) holds `head`, when the fields after it are in their formats. */
function readFields(text: string, at: number, head: Head): LanePaymentResponse | undefined {
  let i = at + INPUT.length
  const inputHash = text.slice(i, i + 66) as Hex
  i += 66
  if (!HEX_32.test(inputHash) || !text.startsWith(OUTPUT, i)) return undefined
  i += OUTPUT.length
  const outputHash = text.slice(i, i + 66) as Hex
  i += 66
  if (!HEX_32.test(outputHash) || !text.startsWith(AMOUNT, i)) return undefined
  i += AMOUNT.length
  const amount = decimalAt(text, i)
  if (amount === undefined) return undefined
  i += amount.length
  if (!text.startsWith(CUMULATIVE, i)) return undefined
  i += CUMULATIVE.length
  const cumulative = decimalAt(text, i)
  if (cumulative === undefined) return undefined
  i += cumulative.length
  if (!text.startsWith(VOUCHER, i)) return undefined
  i += VOUCHER.length
  const voucher = decimalAt(text, i)
  if (voucher === undefined) return undefined
  i += voucher.length
  if (!text.startsWith(SIGNATURE, i)) return undefined
  i += SIGNATURE.length
  const signature = text.slice(i, i + 132) as Hex
  i += 132
  if (!HEX_65.test(signature) || !text.startsWith(PROOF, i)) return undefined
  i += PROOF.length
  const proof: Hex[] = []
  if (text.charCodeAt(i) === 0x5d) i++
  else
    for (;;) {
      const h = text.slice(i + 1, i + 67) as Hex
      if (text.charCodeAt(i) !== 0x22 || text.charCodeAt(i + 67) !== 0x22 || !HEX_32.test(h)) return undefined
      proof.push(h)
      const next = text.charCodeAt(i + 68)
      i += 69
      if (next === 0x5d) break
      if (next !== 0x2c || proof.length >= MAX_PROOF) return undefined
    }
  if (i !== text.length - 1 || text.charCodeAt(i) !== 0x7d) return undefined
  const r = head.receipt
  return {
    x402Version: head.x402Version,
    scheme: head.scheme,
    success: head.success,
    network: head.network,
    payer: head.payer,
    provider: head.provider,
    receipt: {
      laneId: r.laneId,
      assetId: r.assetId,
      model: r.model,
      version: r.version,
      inputHash,
      outputHash,
      amount,
      cumulative,
      voucher,
    },
    signature,
    proof,
  }
}

/**
 * Learns the head of a PAYMENT-RESPONSE text that was parsed with JSON.parse and whose receipt verified (so only a
 * provider that signs for the model adds heads): kept when the whole text is exactly what JSON.stringify writes for
 * those values in the provider's key order, with every field {@link readKnownResponse} slices out in its format, so
 * a later text with the same head reads to the values JSON.parse would give.
 */
export function learnResponseLayout(text: string, r: LanePaymentResponse): void {
  if (r.x402Version !== X402_VERSION || r.success !== true) return
  const w = r.receipt
  const head: Head = {
    x402Version: r.x402Version,
    scheme: r.scheme,
    success: r.success,
    network: r.network,
    payer: r.payer,
    provider: r.provider,
    receipt: { laneId: w.laneId, assetId: w.assetId, model: w.model, version: w.version },
  }
  const canonical: LanePaymentResponse = {
    ...head,
    receipt: {
      ...head.receipt,
      inputHash: w.inputHash,
      outputHash: w.outputHash,
      amount: w.amount,
      cumulative: w.cumulative,
      voucher: w.voucher,
    },
    signature: r.signature,
    proof: r.proof,
  }
  if (JSON.stringify(canonical) !== text) return
  const at = text.indexOf(INPUT)
  if (at < 0 || readFields(text, at, head) === undefined) return
  if (heads.size >= LEARNT) heads.clear()
  heads.set(text.slice(0, at), Object.freeze({ ...head, receipt: Object.freeze(head.receipt) }))
}

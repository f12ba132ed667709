import type { Hex } from 'viem'
import { MAX_PROOF } from '../pay/merkle.js'
import { type LanePaymentPayload, type WireLaneKey, X402_VERSION } from './laneScheme.js'

// The provider reads a PAYMENT-SIGNATURE on every paid call, and JSON.parse of its ~1 KB was the largest
// single item of a paid call's JavaScript work. A wallet writes the same text for every call on a lane but
// for the cumulative amount, the signature and the proof, so the text before the amount and the text after
// the signature (or the proof) are learnt from a payment parsed and checked in full, and a later payment
// with exactly those texts is read by slicing out the three fields and checking their format. Anything
// else (another layout, whitespace, escapes, a new lane) goes through JSON.parse and the full check.

/** Formats of the payment's fields, compiled once. */
export const HEX_32 = /^0x[0-9a-fA-F]{64}$/
export const ADDRESS = /^0x[0-9a-fA-F]{40}$/
export const HEX_65 = /^0x[0-9a-fA-F]{130}$/
export const DECIMAL_30 = /^[0-9]{1,30}$/
export const DECIMAL_20 = /^[0-9]{1,20}$/

type Head = Omit<LanePaymentPayload, 'payload'> & Pick<LanePaymentPayload['payload'], 'ledger' | 'laneId'>

const CUMULATIVE = '","cumulative":"'
const SIGNATURE = '","signature":"'
const PROOF = ',"proof":['
const LEARNT = 1_024
const heads = new Map<string, Readonly<Head>>()
const tails = new Map<string, Readonly<WireLaneKey>>()

type Middle = { cumulative: string; signature: Hex; proof: Hex[] | undefined; end: number }

/** The amount, signature and proof that follow the head (ending at `at`), each in its strict format. */
function readMiddle(text: string, at: number): Middle | undefined {
  const c0 = at + CUMULATIVE.length
  const c1 = text.indexOf('"', c0)
  if (c1 < 0) return undefined
  const cumulative = text.slice(c0, c1)
  if (!DECIMAL_30.test(cumulative) || !text.startsWith(SIGNATURE, c1)) return undefined
  const s0 = c1 + SIGNATURE.length
  const signature = text.slice(s0, s0 + 132) as Hex
  if (!HEX_65.test(signature) || text.charCodeAt(s0 + 132) !== 0x22) return undefined
  let end = s0 + 133
  let proof: Hex[] | undefined
  if (text.startsWith(PROOF, end)) {
    proof = []
    end += PROOF.length
    if (text.charCodeAt(end) === 0x5d) end++
    else
      for (;;) {
        const h = text.slice(end + 1, end + 67) as Hex
        if (text.charCodeAt(end) !== 0x22 || text.charCodeAt(end + 67) !== 0x22 || !HEX_32.test(h))
          return undefined
        proof.push(h)
        const next = text.charCodeAt(end + 68)
        end += 69
        if (next === 0x5d) break
        if (next !== 0x2c || proof.length >= MAX_PROOF) return undefined
      }
  }
  return { cumulative, signature, proof, end }
}

/**
 * The payment a PAYMENT-SIGNATURE text holds, when its layout was learnt from an earlier payment on the same
 * lane (see {@link learnPaymentLayout}); undefined otherwise (parse it in full then). What it returns is what
 * JSON.parse returns for the text, already checked; its `lane` is shared and frozen.
 *
 * @example
 * ```ts
 * const payment = readKnownPayment(text) ?? parseInFull(text)
 * ```
 */
export function readKnownPayment(text: string): LanePaymentPayload | undefined {
  const at = text.indexOf(CUMULATIVE)
  if (at < 0) return undefined
  const head = heads.get(text.slice(0, at))
  if (!head) return undefined
  const m = readMiddle(text, at)
  const lane = m && tails.get(text.slice(m.end))
  if (!m || !lane) return undefined
  return {
    x402Version: head.x402Version,
    scheme: head.scheme,
    network: head.network,
    payload: {
      ledger: head.ledger,
      laneId: head.laneId,
      cumulative: m.cumulative,
      signature: m.signature,
      ...(m.proof ? { proof: m.proof } : {}),
      lane,
    },
  }
}

/**
 * Learns the layout of a payment text that was parsed with JSON.parse and checked in full, and whose voucher
 * verified (so only a lane's payer can add layouts): its head (up to
 * the cumulative amount) and its tail (after the signature or proof) are kept when they are exactly what
 * JSON.stringify writes for those values in the wallet's key order, so a later text with the same head and
 * tail parses to the same values.
 */
export function learnPaymentLayout(text: string, v: LanePaymentPayload): void {
  const at = text.indexOf(CUMULATIVE)
  const m = at < 0 ? undefined : readMiddle(text, at)
  if (!m) return
  // only the version this scheme speaks: what is cached must be a plain value, shared by every read
  if (v.x402Version !== X402_VERSION) return
  const p = v.payload
  const headText = `{"x402Version":${JSON.stringify(v.x402Version)},"scheme":${JSON.stringify(v.scheme)},"network":${JSON.stringify(v.network)},"payload":{"ledger":${JSON.stringify(p.ledger)},"laneId":${JSON.stringify(p.laneId).slice(0, -1)}`
  // the head ends inside the lane id's string, where the cumulative amount's separator starts
  const l = p.lane
  const lane: WireLaneKey = {
    payer: l.payer,
    token: l.token,
    modelId: l.modelId,
    termsVersion: l.termsVersion,
    seq: l.seq,
    lineageHash: l.lineageHash,
  }
  const tailText = `,"lane":${JSON.stringify(lane)}}}`
  if (text.slice(0, at) !== headText || text.slice(m.end) !== tailText) return
  if (heads.size >= LEARNT) heads.clear()
  if (tails.size >= LEARNT) tails.clear()
  heads.set(
    headText,
    Object.freeze({
      x402Version: v.x402Version,
      scheme: v.scheme,
      network: v.network,
      ledger: p.ledger,
      laneId: p.laneId,
    }),
  )
  tails.set(tailText, Object.freeze(lane))
}

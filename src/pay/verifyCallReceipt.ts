import type { Address, Hex } from 'viem'
import { type CallReceipt, callReceiptHasher } from './callReceipt.js'
import { MalformedSignatureError, recoverDigestSigner, recoverDigestSignerNative } from './voucher.js'

export type VerifyCallReceiptParameters = {
  chainId: number
  ledger: Address
  receipt: CallReceipt
  signature: Hex
}
export type VerifyCallReceiptReturnType =
  | { valid: true; signer: Address }
  | { valid: false; reason: 'malformed'; message: string }

/**
 * Recovers who signed a call receipt (native secp256k1 with a cached domain). The caller decides whether
 * that signer may speak for the model (its owner or an approved operator).
 *
 * @example
 * ```ts
 * const r = await verifyCallReceipt({ chainId, ledger, receipt, signature })
 * if (!r.valid || r.signer !== owner) throw new Error('receipt not signed by the model owner')
 * ```
 */
export async function verifyCallReceipt(
  p: VerifyCallReceiptParameters,
): Promise<VerifyCallReceiptReturnType> {
  const native = verifyCallReceiptNative(p)
  if (native) return native
  try {
    const digest = callReceiptHasher(p.chainId, p.ledger).digest(p.receipt)
    return { valid: true, signer: await recoverDigestSigner(digest, p.signature) }
  } catch (err) {
    if (err instanceof MalformedSignatureError)
      return { valid: false, reason: 'malformed', message: err.shortMessage }
    throw err
  }
}

/**
 * @internal {@link verifyCallReceipt} without a promise, through the native binding (the client checks a
 * receipt on every paid call). Undefined when the binding is unavailable.
 */
export function verifyCallReceiptNative(
  p: VerifyCallReceiptParameters,
): VerifyCallReceiptReturnType | undefined {
  try {
    const signer = recoverDigestSignerNative(
      callReceiptHasher(p.chainId, p.ledger).digest(p.receipt),
      p.signature,
    )
    return signer === undefined ? undefined : { valid: true, signer }
  } catch (err) {
    if (err instanceof MalformedSignatureError)
      return { valid: false, reason: 'malformed', message: err.shortMessage }
    throw err
  }
}

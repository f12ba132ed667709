import type { Address, Hex } from 'viem'
import { type CallReceipt, callReceiptHasher } from './callReceipt.js'
import { decodeProof, merkleRootOf } from './merkle.js'
import { MalformedSignatureError, recoverDigestSigner, recoverDigestSignerNative } from './voucher.js'

export type VerifyCallReceiptParameters = {
  chainId: number
  ledger: Address
  receipt: CallReceipt
  /** The provider's signature over the root of the batch the receipt was signed in. */
  signature: Hex
  /** The receipt's proof in that batch (empty for a batch of one). */
  proof: readonly Hex[]
}
export type VerifyCallReceiptReturnType =
  | { valid: true; signer: Address; root: Hex }
  | { valid: false; reason: 'malformed'; message: string }

/**
 * Recovers who signed a call receipt: the receipt's leaf and proof lead to a batch root, whose EIP-712
 * digest the signature covers (native secp256k1 with a cached domain; a root already recovered with the
 * same signature is not recovered again). The caller decides whether that signer may speak for the
 * model (its owner or an approved operator).
 *
 * @example
 * ```ts
 * const r = await verifyCallReceipt({ chainId, ledger, receipt, signature, proof })
 * if (!r.valid || r.signer !== owner) throw new Error('receipt not signed by the model owner')
 * ```
 */
export async function verifyCallReceipt(
  p: VerifyCallReceiptParameters,
): Promise<VerifyCallReceiptReturnType> {
  const native = verifyCallReceiptNative(p)
  if (native) return native
  try {
    const { rootBytes, root } = rootOf(p)
    const digest = callReceiptHasher(p.chainId, p.ledger).batchDigest(rootBytes)
    return { valid: true, signer: await recoverDigestSigner(digest, p.signature), root }
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
    const { rootBytes, root } = rootOf(p)
    const hasher = callReceiptHasher(p.chainId, p.ledger)
    const key = `${root}${p.signature}`
    const known = hasher.recovered.get(key)
    if (known) return { valid: true, signer: known, root }
    const signer = recoverDigestSignerNative(hasher.batchDigest(rootBytes), p.signature)
    if (signer === undefined) return undefined
    if (hasher.recovered.size >= 4_096) hasher.recovered.clear()
    hasher.recovered.set(key, signer)
    return { valid: true, signer, root }
  } catch (err) {
    if (err instanceof MalformedSignatureError)
      return { valid: false, reason: 'malformed', message: err.shortMessage }
    throw err
  }
}

function rootOf(p: VerifyCallReceiptParameters) {
  const rootBytes = merkleRootOf(
    callReceiptHasher(p.chainId, p.ledger).structHash(p.receipt),
    decodeProof(p.proof, 'receipt'),
  )
  const root = `0x${Buffer.from(rootBytes.buffer, rootBytes.byteOffset, 32).toString('hex')}` as Hex
  return { rootBytes, root }
}

import type { Address, Hex } from 'viem'
import { type CallReceipt, callReceiptHasher } from './callReceipt.js'
import { perDomain } from './eip712.js'
import { decodeProof, merkleRootOf } from './merkle.js'
import { createSignedTrees } from './signedTrees.js'
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
 * digest the signature covers (native secp256k1 with a cached domain; a batch's signature is recovered
 * once). The caller decides whether that signer may speak for the
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
 * The receipt batch signatures recovered on (chainId, ledger), and the receipt nodes proven under each.
 */
const receiptTrees = perDomain(() => createSignedTrees({ what: 'receipt' }))

/**
 * @internal {@link verifyCallReceipt} without a promise, through the native binding (the client checks a
 * receipt on every paid call): a batch's signature is recovered once, and a later receipt of the batch is
 * proven at the first node of its path an earlier one proved. Undefined when the binding is unavailable.
 */
export function verifyCallReceiptNative(
  p: VerifyCallReceiptParameters,
): VerifyCallReceiptReturnType | undefined {
  try {
    const hasher = callReceiptHasher(p.chainId, p.ledger)
    const proven = receiptTrees(p.chainId, p.ledger).prove(
      hasher.structHash(p.receipt),
      p.proof,
      p.signature,
      (root, signature) => recoverDigestSignerNative(hasher.batchDigest(root), signature),
    )
    return proven && { valid: true, signer: proven.signer, root: proven.rootHex }
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

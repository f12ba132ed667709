import type { Address, Hex } from 'viem'
import { perDomain } from './eip712.js'
import { decodeProof, merkleRootOf } from './merkle.js'
import { createSignedTrees } from './signedTrees.js'
import {
  MalformedSignatureError,
  recoverDigestSigner,
  recoverDigestSignerNative,
  voucherHasher,
} from './voucher.js'

export type VerifyVoucherParameters = {
  chainId: number
  ledger: Address
  laneId: Hex
  cumulative: bigint
  signature: Hex
  /** The lane's payer: the only account whose vouchers count. */
  payer: Address
  /**
   * For a voucher signed in a batch ({@link signVouchers}): its sorted-pair Merkle proof up to the root the
   * signature covers. Empty or absent for a voucher signed alone.
   */
  proof?: readonly Hex[] | undefined
}
export type VerifyVoucherReturnType =
  | { valid: true; signer: Address }
  | { valid: false; reason: 'wrong-signer' | 'malformed'; signer?: Address | undefined; message: string }

/**
 * Checks a voucher's EIP-712 signature off-chain exactly as the ledger will on-chain (chainId, ledger
 * address, low s, v of 27/28) and that the payer signed it. It never throws for a bad signature: it says
 * why it is not valid. Native secp256k1 recovery (~60 µs) with a precomputed domain separator.
 *
 * @example
 * ```ts
 * const r = await verifyVoucher({ chainId, ledger, laneId, cumulative, signature, payer })
 * if (!r.valid) return res.status(402).json({ error: r.message })
 * ```
 */
export async function verifyVoucher(p: VerifyVoucherParameters): Promise<VerifyVoucherReturnType> {
  const native = verifyVoucherNative(p)
  if (native) return native
  let signer: Address
  try {
    signer = await recoverDigestSigner(digestOf(p, batchRootOf(p)), p.signature)
  } catch (err) {
    if (err instanceof MalformedSignatureError)
      return { valid: false, reason: 'malformed', message: err.shortMessage }
    throw err
  }
  return verdict(p, signer)
}

/**
 * @internal The batch signatures recovered on (chainId, ledger), and the voucher nodes proven under each.
 */
export const voucherTrees = perDomain(() => createSignedTrees({ what: 'voucher' }))

/**
 * @internal {@link verifyVoucher} without a promise, through the native binding: the provider checks a
 * voucher on every paid call. The vouchers of one batch share a signature: it is recovered once, and a later
 * voucher of the batch is proven at the first node of its path an earlier one proved. Undefined when the binding
 * is unavailable.
 */
export function verifyVoucherNative(p: VerifyVoucherParameters): VerifyVoucherReturnType | undefined {
  let signer: Address | undefined
  try {
    const hasher = voucherHasher(p.chainId, p.ledger)
    if (p.proof === undefined || p.proof.length === 0)
      signer = recoverDigestSignerNative(hasher.digest(p.laneId, p.cumulative), p.signature)
    else
      signer = voucherTrees(p.chainId, p.ledger).prove(
        hasher.structHash(p.laneId, p.cumulative),
        p.proof,
        p.signature,
        (root, signature) => recoverDigestSignerNative(hasher.batchDigest(root), signature),
        // only the trees of the lane's payer are kept: anyone else's signature is recovered and refused
        (signer) => sameAddress(signer, p.payer),
      )?.signer
  } catch (err) {
    if (err instanceof MalformedSignatureError)
      return { valid: false, reason: 'malformed', message: err.shortMessage }
    throw err
  }
  return signer === undefined ? undefined : verdict(p, signer)
}

/** The root a batch voucher's proof leads to; undefined for a voucher signed alone. */
function batchRootOf(p: VerifyVoucherParameters): Uint8Array | undefined {
  if (p.proof === undefined || p.proof.length === 0) return undefined
  const hasher = voucherHasher(p.chainId, p.ledger)
  return merkleRootOf(hasher.structHash(p.laneId, p.cumulative), decodeProof(p.proof, 'voucher'))
}

/** What the payer signed: `Vouchers(root)` of its batch, or `Voucher(laneId, cumulative)` alone. */
function digestOf(p: VerifyVoucherParameters, root: Uint8Array | undefined): Uint8Array {
  const hasher = voucherHasher(p.chainId, p.ledger)
  return root ? hasher.batchDigest(root) : hasher.digest(p.laneId, p.cumulative)
}

const sameAddress = (a: Address, b: Address) => a === b || a.toLowerCase() === b.toLowerCase()

function verdict(p: VerifyVoucherParameters, signer: Address): VerifyVoucherReturnType {
  if (!sameAddress(signer, p.payer)) {
    return {
      valid: false,
      reason: 'wrong-signer',
      signer,
      message: `voucher is signed by ${signer}, not by the lane's payer ${p.payer} (or for another chain or ledger)`,
    }
  }
  return { valid: true, signer }
}

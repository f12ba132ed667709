import type { Address, Hex } from 'viem'
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
  const digest = voucherHasher(p.chainId, p.ledger).digest(p.laneId, p.cumulative)
  let signer: Address
  try {
    signer = await recoverDigestSigner(digest, p.signature)
  } catch (err) {
    if (err instanceof MalformedSignatureError)
      return { valid: false, reason: 'malformed', message: err.shortMessage }
    throw err
  }
  return verdict(p, signer)
}

/**
 * @internal {@link verifyVoucher} without a promise, through the native binding: the provider checks a
 * voucher on every paid call. Undefined when the binding is unavailable.
 */
export function verifyVoucherNative(p: VerifyVoucherParameters): VerifyVoucherReturnType | undefined {
  const digest = voucherHasher(p.chainId, p.ledger).digest(p.laneId, p.cumulative)
  let signer: Address | undefined
  try {
    signer = recoverDigestSignerNative(digest, p.signature)
  } catch (err) {
    if (err instanceof MalformedSignatureError)
      return { valid: false, reason: 'malformed', message: err.shortMessage }
    throw err
  }
  return signer === undefined ? undefined : verdict(p, signer)
}

function verdict(p: VerifyVoucherParameters, signer: Address): VerifyVoucherReturnType {
  if (signer.toLowerCase() !== p.payer.toLowerCase()) {
    return {
      valid: false,
      reason: 'wrong-signer',
      signer,
      message: `voucher is signed by ${signer}, not by the lane's payer ${p.payer} (or for another chain or ledger)`,
    }
  }
  return { valid: true, signer }
}

import type { Account, Address, Hex } from 'viem'
import { BaseError } from '../errors/base.js'
import { signDigestNative, voucherDomain, voucherHasher, voucherTypes } from './voucher.js'

export type SignVoucherParameters = {
  /** The payer: a viem account, plus its private key when known (native fast path, ~20× faster). */
  account: Account
  privateKey?: Hex | undefined
  chainId: number
  ledger: Address
  laneId: Hex
  /** The cumulative amount owed on the lane after this call (never the price of one call). */
  cumulative: bigint
}
export type SignVoucherReturnType = Hex
export type SignVoucherErrorType = VoucherSigningError

/** The account cannot sign typed data. */
export class VoucherSigningError extends BaseError {
  override name = 'VoucherSigningError' as const
}

/**
 * Signs an EIP-712 voucher: the payer owes `cumulative` in total on `laneId`. Vouchers are cumulative and
 * monotonic, so a replayed or older one is worth nothing. With the private key it signs through the native
 * secp256k1 binding; otherwise through the account's `signTypedData`. Both produce the same signature.
 *
 * @example
 * ```ts
 * const signature = await signVoucher({ account, privateKey, chainId: 31337, ledger, laneId, cumulative: 4_000n })
 * ```
 */
export async function signVoucher(p: SignVoucherParameters): Promise<SignVoucherReturnType> {
  const fast = signVoucherNative(p)
  if (fast) return fast
  if (!p.account.signTypedData) {
    throw new VoucherSigningError(`account ${p.account.address} cannot sign typed data`, {
      metaMessages: [
        '- Use a local account (privateKeyToAccount) or a wallet that supports eth_signTypedData_v4.',
      ],
    })
  }
  return p.account.signTypedData({
    domain: voucherDomain(p.chainId, p.ledger),
    types: voucherTypes,
    primaryType: 'Voucher',
    message: { laneId: p.laneId, cumulative: p.cumulative },
  })
}

/**
 * @internal {@link signVoucher} without a promise, with the private key through the native binding (a
 * payer signs on every paid call). Null without a key or the binding.
 */
export function signVoucherNative(p: SignVoucherParameters): SignVoucherReturnType | null {
  if (!p.privateKey) return null
  return signDigestNative(voucherHasher(p.chainId, p.ledger).digest(p.laneId, p.cumulative), p.privateKey)
}

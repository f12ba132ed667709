import type { Account, Address, Hex } from 'viem'
import { type CallReceipt, callReceiptDomain, callReceiptHasher, callReceiptTypes } from './callReceipt.js'
import { VoucherSigningError } from './signVoucher.js'
import { signDigestNative } from './voucher.js'

export type SignCallReceiptParameters = {
  /** The provider's account, plus its private key when known (native fast path). */
  account: Account
  privateKey?: Hex | undefined
  chainId: number
  ledger: Address
  receipt: CallReceipt
}
export type SignCallReceiptReturnType = Hex

/**
 * Signs a call receipt (EIP-712, domain `tributary-receipt` on this chain and ledger) with the
 * provider's key: its word that the call ran on that input, produced that output, and was charged
 * `amount`, bringing the lane's total to `cumulative`.
 *
 * @example
 * ```ts
 * const signature = await signCallReceipt({ account, privateKey, chainId, ledger, receipt })
 * ```
 */
export async function signCallReceipt(p: SignCallReceiptParameters): Promise<SignCallReceiptReturnType> {
  const fast = signCallReceiptNative(p)
  if (fast) return fast
  if (!p.account.signTypedData) {
    throw new VoucherSigningError(`account ${p.account.address} cannot sign typed data`, {
      metaMessages: ['- Serve models with a local account (privateKeyToAccount) or pass its private key.'],
    })
  }
  return p.account.signTypedData({
    domain: callReceiptDomain(p.chainId, p.ledger),
    types: callReceiptTypes,
    primaryType: 'CallReceipt',
    message: p.receipt,
  })
}

/**
 * @internal {@link signCallReceipt} without a promise, with the private key through the native binding
 * (the provider signs on every paid call). Null without a key or the binding.
 */
export function signCallReceiptNative(p: SignCallReceiptParameters): SignCallReceiptReturnType | null {
  if (!p.privateKey) return null
  return signDigestNative(callReceiptHasher(p.chainId, p.ledger).digest(p.receipt), p.privateKey)
}

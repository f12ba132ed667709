import type { Account, Address, Hex } from 'viem'
import { merkleLevels, merkleProof } from './merkle.js'
import { signVoucher, signVoucherNative, VoucherSigningError } from './signVoucher.js'
import { signDigestNative, voucherBatchTypes, voucherDomain, voucherHasher } from './voucher.js'

/** A voucher to sign: the payer owes `cumulative` in total on `laneId`. */
export type VoucherClaim = { laneId: Hex; cumulative: bigint }

export type SignVouchersParameters = {
  /** The payer: a viem account, plus its private key when known (native fast path). */
  account: Account
  privateKey?: Hex | undefined
  chainId: number
  ledger: Address
  /** At least one voucher (on any of the payer's lanes in this chain and ledger). */
  vouchers: readonly VoucherClaim[]
}
export type SignVouchersReturnType = {
  signature: Hex
  /**
   * Per voucher, in order: the sibling hashes from its leaf to the signed root. Empty for a voucher signed
   * alone, which is what an empty proof means on the wire and to the ledger.
   */
  proofs: Hex[][]
}

/**
 * Signs several vouchers with one signature: the payer signs EIP-712 `Vouchers(bytes32 root)` (domain
 * `tributary` on this chain and ledger), where `root` is the sorted-pair keccak256 Merkle root of the
 * vouchers' `Voucher(bytes32 laneId,uint256 cumulative)` struct hashes. Each voucher stays a claim of its own
 * — one cumulative amount on one lane, redeemable alone with its proof (`Ledger.redeemWithProofs`) — so
 * batching changes what is signed, not what is owed. One voucher is signed alone ({@link signVoucher}).
 *
 * @example
 * ```ts
 * const { signature, proofs } = await signVouchers({ account, privateKey, chainId, ledger, vouchers })
 * ```
 */
export async function signVouchers(p: SignVouchersParameters): Promise<SignVouchersReturnType> {
  const fast = signVouchersNative(p)
  if (fast) return fast
  if (p.vouchers.length === 1) {
    const v = p.vouchers[0] as VoucherClaim
    return { signature: await signVoucher({ ...p, ...v }), proofs: [[]] }
  }
  const { root, proofs } = batchOf(p)
  if (!p.account.signTypedData)
    throw new VoucherSigningError(`account ${p.account.address} cannot sign typed data`, {
      metaMessages: [
        '- Use a local account (privateKeyToAccount) or a wallet that supports eth_signTypedData_v4.',
      ],
    })
  const signature = await p.account.signTypedData({
    domain: voucherDomain(p.chainId, p.ledger),
    types: voucherBatchTypes,
    primaryType: 'Vouchers',
    message: { root },
  })
  return { signature, proofs }
}

/**
 * @internal {@link signVouchers} without a promise, with the private key through the native binding (a payer
 * signs for every batch of paid calls). Null without a key or the binding.
 */
export function signVouchersNative(p: SignVouchersParameters): SignVouchersReturnType | null {
  if (!p.privateKey) return null
  if (p.vouchers.length === 1) {
    const signature = signVoucherNative({ ...p, ...(p.vouchers[0] as VoucherClaim) })
    return signature ? { signature, proofs: [[]] } : null
  }
  const { rootBytes, proofs } = batchOf(p)
  const signature = signDigestNative(voucherHasher(p.chainId, p.ledger).batchDigest(rootBytes), p.privateKey)
  return signature ? { signature, proofs } : null
}

function batchOf(p: SignVouchersParameters) {
  if (!p.vouchers.length) throw new RangeError('a voucher batch needs at least one voucher')
  const hasher = voucherHasher(p.chainId, p.ledger)
  const levels = merkleLevels(p.vouchers.map((v) => hasher.structHash(v.laneId, v.cumulative)))
  const rootBytes = (levels[levels.length - 1] as Uint8Array[])[0] as Uint8Array
  // every node in hex once: a node sits in the proofs of all the leaves below its sibling
  const hexLevels = levels.map((level) => level.map(hex))
  const proofs = p.vouchers.map((_, i) => merkleProof(hexLevels, i))
  return { root: hex(rootBytes), rootBytes, proofs }
}

const hex = (b: Uint8Array): Hex => `0x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')}`

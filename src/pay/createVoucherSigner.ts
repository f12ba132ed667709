import type { Account, Address, Hex } from 'viem'
import { batchPerTurn } from './batchPerTurn.js'
import { signVouchers, signVouchersNative, type VoucherClaim } from './signVouchers.js'

export type CreateVoucherSignerParameters = {
  /** The payer's account, plus its private key when known (native fast path). */
  account: Account
  privateKey?: Hex | undefined
  chainId: number
  ledger: Address
  /** Most vouchers under one signature (default 64: proofs of at most 6 hashes). */
  maxBatch?: number | undefined
}

/** A voucher's signature and its proof in the batch that signature covers (empty when signed alone). */
export type SignedVoucher = { signature: Hex; proof: Hex[] }

export type VoucherSigner = {
  /** Signs the voucher with the others asked for in the same turn of the event loop. */
  sign(voucher: VoucherClaim): Promise<SignedVoucher>
  /** Vouchers signed and signatures made so far. */
  readonly stats: { readonly vouchers: number; readonly signatures: number }
}

/**
 * A payer's voucher signer that signs the vouchers of the calls it starts together as one batch: the
 * vouchers asked for in one turn of the event loop (up to `maxBatch`) share one signature over their Merkle
 * root, each with its own proof ({@link signVouchers}); a voucher asked for alone is signed alone. Every call
 * still carries its own voucher for its own cumulative amount: batching saves signatures (and the
 * provider's recoveries), not checks.
 *
 * @example
 * ```ts
 * const signer = createVoucherSigner({ account, privateKey, chainId, ledger })
 * const { signature, proof } = await signer.sign({ laneId, cumulative: 40n })
 * ```
 */
export function createVoucherSigner(p: CreateVoucherSignerParameters): VoucherSigner {
  const batcher = batchPerTurn(p.maxBatch ?? 64, async (vouchers: VoucherClaim[]) => {
    const parameters = { ...p, vouchers }
    const signed = signVouchersNative(parameters) ?? (await signVouchers(parameters))
    return signed.proofs.map((proof): SignedVoucher => ({ signature: signed.signature, proof }))
  })
  return {
    sign: (voucher) => batcher.add(voucher),
    get stats() {
      return { vouchers: batcher.stats.items, signatures: batcher.stats.batches }
    },
  }
}

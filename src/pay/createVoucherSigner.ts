import type { Hex } from 'viem'
import { type BatchSigned, type BatchSignerParameters, batchPerTurn } from './batchPerTurn.js'
import { signVouchers, signVouchersNative, type VoucherClaim } from './signVouchers.js'

/** The payer's account (and key) on a chain and ledger; `maxBatch` caps the vouchers under one signature. */
export type CreateVoucherSignerParameters = BatchSignerParameters

/** A voucher's signature and its proof in the batch that signature covers (empty when signed alone). */
export type SignedVoucher = BatchSigned

export type VoucherSigner = {
  /** Signs the voucher with the others asked for in the same or the next turn of the event loop. */
  sign(voucher: VoucherClaim): Promise<SignedVoucher>
  /** Vouchers signed and signatures made so far. */
  readonly stats: { readonly vouchers: number; readonly signatures: number }
}

/**
 * A payer's voucher signer that signs the vouchers of the calls it starts together as one batch: the
 * vouchers asked for in one turn of the event loop and the next (up to `maxBatch`) on the same lane share one signature
 * over their Merkle root, each with its own proof ({@link signVouchers}); a voucher alone on its lane is
 * signed alone. Batches never mix lanes: a proof reveals the other leaves of its tree, and a voucher meant
 * for one provider must not become redeemable by whoever sees another provider's traffic. Every call
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
  let signatures = 0
  const batcher = batchPerTurn(p.maxBatch ?? 64, async (vouchers: VoucherClaim[]) => {
    // one tree per lane: a proof shows its holder the other leaves of its tree, so a tree only holds
    // vouchers that go to the same lane's provider anyway
    const byLane = new Map<string, number[]>()
    vouchers.forEach((v, i) => {
      const k = v.laneId.toLowerCase()
      const group = byLane.get(k)
      if (group) group.push(i)
      else byLane.set(k, [i])
    })
    const out: SignedVoucher[] = new Array(vouchers.length)
    for (const indices of byLane.values()) {
      const parameters = { ...p, vouchers: indices.map((i) => vouchers[i] as VoucherClaim) }
      const signed = signVouchersNative(parameters) ?? (await signVouchers(parameters))
      indices.forEach((i, j) => {
        out[i] = { signature: signed.signature, proof: signed.proofs[j] as Hex[] }
      })
      signatures++
    }
    return out
  })
  return {
    sign: (voucher) => batcher.add(voucher),
    get stats() {
      return { vouchers: batcher.stats.items, signatures }
    },
  }
}

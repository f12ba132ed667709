import { type BatchSigned, type BatchSignerParameters, batchPerTurn } from './batchPerTurn.js'
import type { CallReceipt } from './callReceipt.js'
import { signCallReceipts, signCallReceiptsNative } from './signCallReceipts.js'

/** The provider's account (and key) on a chain and ledger; `maxBatch` caps the receipts under one signature. */
export type CreateCallReceiptSignerParameters = BatchSignerParameters

/** A receipt's signature and its proof in the batch that signature covers. */
export type SignedCallReceipt = BatchSigned

export type CallReceiptSigner = {
  /** Signs the receipt with the others asked for in the same or the next turn of the event loop. */
  sign(receipt: CallReceipt): Promise<SignedCallReceipt>
  /** Receipts signed and signatures made so far. */
  readonly stats: { readonly receipts: number; readonly signatures: number }
}

/**
 * A provider's receipt signer that signs the receipts of the calls finishing together as one batch: the
 * receipts asked for in one turn of the event loop and the next (up to `maxBatch`) share one signature over their
 * Merkle root, each answered with its own proof ({@link signCallReceipts}). A call finishing alone waits
 * for nothing but the end of the next turn; a busy provider signs once for many calls.
 *
 * @example
 * ```ts
 * const signer = createCallReceiptSigner({ account, privateKey, chainId, ledger })
 * const { signature, proof } = await signer.sign(receipt)
 * ```
 */
export function createCallReceiptSigner(p: CreateCallReceiptSignerParameters): CallReceiptSigner {
  const batcher = batchPerTurn(p.maxBatch ?? 64, async (receipts: CallReceipt[]) => {
    const parameters = { ...p, receipts }
    const signed = signCallReceiptsNative(parameters) ?? (await signCallReceipts(parameters))
    return signed.proofs.map((proof): SignedCallReceipt => ({ signature: signed.signature, proof }))
  })
  return {
    sign: (receipt) => batcher.add(receipt),
    get stats() {
      return { receipts: batcher.stats.items, signatures: batcher.stats.batches }
    },
  }
}

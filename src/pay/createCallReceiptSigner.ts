import type { Account, Address, Hex } from 'viem'
import type { CallReceipt } from './callReceipt.js'
import { signCallReceipts, signCallReceiptsNative } from './signCallReceipts.js'

export type CreateCallReceiptSignerParameters = {
  account: Account
  privateKey?: Hex | undefined
  chainId: number
  ledger: Address
  /** Most receipts under one signature (default 64: proofs of at most 6 hashes). */
  maxBatch?: number | undefined
}

/** A receipt's signature and its proof in the batch that signature covers. */
export type SignedCallReceipt = { signature: Hex; proof: Hex[] }

export type CallReceiptSigner = {
  /** Signs the receipt with the others asked for in the same turn of the event loop. */
  sign(receipt: CallReceipt): Promise<SignedCallReceipt>
  /** Receipts signed and signatures made so far. */
  readonly stats: { readonly receipts: number; readonly signatures: number }
}

type Waiting = { receipt: CallReceipt; resolve(s: SignedCallReceipt): void; reject(err: unknown): void }

/**
 * A provider's receipt signer that signs the receipts of the calls finishing together as one batch: the
 * receipts asked for in one turn of the event loop (up to `maxBatch`) share one signature over their
 * Merkle root, each answered with its own proof ({@link signCallReceipts}). A call finishing alone waits
 * for nothing but the end of the current turn; a busy provider signs once for many calls.
 *
 * @example
 * ```ts
 * const signer = createCallReceiptSigner({ account, privateKey, chainId, ledger })
 * const { signature, proof } = await signer.sign(receipt)
 * ```
 */
export function createCallReceiptSigner(p: CreateCallReceiptSignerParameters): CallReceiptSigner {
  const maxBatch = p.maxBatch ?? 64
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError('maxBatch is a positive integer')
  let queue: Waiting[] = []
  const stats = { receipts: 0, signatures: 0 }
  const flush = async () => {
    const batch = queue
    queue = []
    if (!batch.length) return
    const parameters = { ...p, receipts: batch.map((w) => w.receipt) }
    try {
      const signed = signCallReceiptsNative(parameters) ?? (await signCallReceipts(parameters))
      stats.receipts += batch.length
      stats.signatures++
      batch.forEach((w, i) => {
        w.resolve({ signature: signed.signature, proof: signed.proofs[i] as Hex[] })
      })
    } catch (err) {
      for (const w of batch) w.reject(err)
    }
  }
  return {
    stats,
    sign(receipt) {
      return new Promise<SignedCallReceipt>((resolve, reject) => {
        queue.push({ receipt, resolve, reject })
        if (queue.length === 1) setImmediate(flush)
        else if (queue.length >= maxBatch) void flush()
      })
    },
  }
}

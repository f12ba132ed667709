import type { Account, Address, Hex } from 'viem'

/** Who signs in batches, and for which chain and ledger. */
export type BatchSignerParameters = {
  /** The signing account, plus its private key when known (native fast path). */
  account: Account
  privateKey?: Hex | undefined
  chainId: number
  ledger: Address
  /** Most items under one signature (default 64: proofs of at most 6 hashes). */
  maxBatch?: number | undefined
}

/** One item's signature and its proof in the batch that signature covers (empty when signed alone). */
export type BatchSigned = { signature: Hex; proof: Hex[] }

/** Items asked for in one turn of the event loop and the next, handled together. */
export type TurnBatcher<I, O> = {
  /** Queues the item with the others asked for in this turn and the next; resolves with its own result. */
  add(item: I): Promise<O>
  /** Items handled and batches made so far. */
  readonly stats: { items: number; batches: number }
}

type Waiting<I, O> = { item: I; resolve(o: O): void; reject(err: unknown): void }

/**
 * Collects the items asked for in one turn of the event loop and the next (up to `maxBatch`, then a batch
 * starts at once) and hands them to `run` together, which answers one result per item, in order. Under load
 * the answers of concurrent calls reach a process spread over consecutive turns, so waiting one turn more
 * about doubles a batch (with 32 calls in flight: about 13 vouchers per signature instead of 7); an item
 * asked for alone waits for nothing but the end of the next turn. A failed batch rejects each of its items.
 *
 * @example
 * ```ts
 * const signer = batchPerTurn(64, (receipts) => signAll(receipts))
 * const signed = await signer.add(receipt)
 * ```
 */
export function batchPerTurn<I, O>(
  maxBatch: number,
  run: (items: I[]) => readonly O[] | Promise<readonly O[]>,
): TurnBatcher<I, O> {
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError('maxBatch is a positive integer')
  let queue: Waiting<I, O>[] = []
  const stats = { items: 0, batches: 0 }
  const flush = async () => {
    const batch = queue
    queue = []
    if (!batch.length) return
    try {
      const out = await run(batch.map((w) => w.item))
      stats.items += batch.length
      stats.batches++
      batch.forEach((w, i) => {
        w.resolve(out[i] as O)
      })
    } catch (err) {
      for (const w of batch) w.reject(err)
    }
  }
  const nextTurn = () => setImmediate(flush)
  return {
    stats,
    add(item) {
      return new Promise<O>((resolve, reject) => {
        queue.push({ item, resolve, reject })
        if (queue.length >= maxBatch) void flush()
        else if (queue.length === 1) setImmediate(nextTurn)
      })
    },
  }
}

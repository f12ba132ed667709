import type { Account, Address, Hex } from 'viem'
import {
  type CallReceipt,
  callReceiptBatchTypes,
  callReceiptDomain,
  callReceiptHasher,
} from './callReceipt.js'
import { merkleLevels, merkleProof } from './merkle.js'
import { VoucherSigningError } from './signVoucher.js'
import { signDigestNative } from './voucher.js'

export type SignCallReceiptsParameters = {
  /** The provider's account, plus its private key when known (native fast path). */
  account: Account
  privateKey?: Hex | undefined
  chainId: number
  ledger: Address
  /** At least one receipt. */
  receipts: readonly CallReceipt[]
}
export type SignCallReceiptsReturnType = {
  /** The root of the batch: what the signature covers. */
  root: Hex
  signature: Hex
  /** Per receipt, in order: the sibling hashes from its leaf to the root. */
  proofs: Hex[][]
}

/**
 * Signs a batch of call receipts with the provider's key (EIP-712 `CallReceipts(bytes32 root)`, domain
 * `tributary-receipt` on this chain and ledger): its word that each call ran on that input, produced
 * that output, and was charged `amount`, bringing the lane's total to `cumulative`. One signature covers
 * the whole batch; each receipt is checked with its own proof.
 *
 * @example
 * ```ts
 * const { signature, proofs } = await signCallReceipts({ account, privateKey, chainId, ledger, receipts })
 * ```
 */
export async function signCallReceipts(p: SignCallReceiptsParameters): Promise<SignCallReceiptsReturnType> {
  const fast = signCallReceiptsNative(p)
  if (fast) return fast
  if (!p.account.signTypedData) {
    throw new VoucherSigningError(`account ${p.account.address} cannot sign typed data`, {
      metaMessages: ['- Serve models with a local account (privateKeyToAccount) or pass its private key.'],
    })
  }
  const { root, proofs } = batchOf(p)
  const signature = await p.account.signTypedData({
    domain: callReceiptDomain(p.chainId, p.ledger),
    types: callReceiptBatchTypes,
    primaryType: 'CallReceipts',
    message: { root },
  })
  return { root, signature, proofs }
}

/**
 * @internal {@link signCallReceipts} without a promise, with the private key through the native binding
 * (a provider signs for every batch of paid calls). Null without a key or the binding.
 */
export function signCallReceiptsNative(p: SignCallReceiptsParameters): SignCallReceiptsReturnType | null {
  if (!p.privateKey) return null
  const { root, rootBytes, proofs } = batchOf(p)
  const signature = signDigestNative(
    callReceiptHasher(p.chainId, p.ledger).batchDigest(rootBytes),
    p.privateKey,
  )
  return signature ? { root, signature, proofs } : null
}

function batchOf(p: SignCallReceiptsParameters) {
  if (!p.receipts.length) throw new RangeError('a receipt batch needs at least one receipt')
  const hasher = callReceiptHasher(p.chainId, p.ledger)
  const levels = merkleLevels(p.receipts.map((r) => hasher.structHash(r)))
  const rootBytes = (levels[levels.length - 1] as Uint8Array[])[0] as Uint8Array
  // every node in hex once: a node sits in the proofs of all the leaves below its sibling
  const hexLevels = levels.map((level) => level.map(hex))
  const proofs = p.receipts.map((_, i) => merkleProof(hexLevels, i))
  return { root: hex(rootBytes), rootBytes, proofs }
}

const hex = (b: Uint8Array): Hex => `0x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')}`

import { bytesToHex, concatBytes, type Hex, hexToBytes, keccak256, stringToBytes, zeroHash } from 'viem'
import type { LedgerEntry, SettleResult } from './types.js'

/**
 * A run's receipt: every paid call, Merkle-rooted.
 *
 * Leaf i = keccak256(keccak256(abi.encode(uint256 index, bytes32 idempotencyKey, uint256 assetId,
 * bytes32 keccak256(bytes(modelVersion)), bytes32 laneId, uint256 amount, uint256 cumulative, bytes32 inputHash,
 * bytes32 outputHash, bytes32 keccak256(providerSignature), uint256 latencyMs))) — every field is one 32-byte word,
 * the two variable-length fields pre-hashed, and the leaf double-hashed (as OpenZeppelin's StandardMerkleTree) so a
 * leaf can never pass for an inner node.
 *
 * The tree is built bottom-up over leaves in ledger order; each inner node is keccak256 of its two children sorted
 * ascending (sorted pairs, as OpenZeppelin `MerkleProof.verify` expects); a node without a sibling moves up a level
 * unchanged. The root of an empty receipt is zero.
 */
export type Receipt = {
  readonly runId: Hex
  readonly workflowId: string
  readonly root: Hex
  readonly entries: readonly LedgerEntry[]
  /** Sum of amounts per token address. */
  readonly totals: Readonly<Record<string, bigint>>
  readonly settlement: SettleResult | undefined
}

const word = (n: bigint | number) => {
  const out = new Uint8Array(32)
  let v = BigInt(n)
  for (let i = 31; i >= 0 && v > 0n; i--) {
    out[i] = Number(v & 0xffn)
    v >>= 8n
  }
  return out
}

/**
 * The Merkle leaf of one ledger entry (see `Receipt` for the encoding).
 *
 * @example
 * ```ts
 * const leaf = receiptLeaf(receipt.entries[0])
 * ```
 */
export function receiptLeaf(e: LedgerEntry): Hex {
  const buf = new Uint8Array(11 * 32)
  buf.set(word(e.index), 0)
  buf.set(hexToBytes(e.idempotencyKey), 32)
  buf.set(word(e.assetId), 64)
  buf.set(keccak256(stringToBytes(e.modelVersion), 'bytes'), 96)
  buf.set(hexToBytes(e.laneId), 128)
  buf.set(word(e.amount), 160)
  buf.set(word(e.cumulative), 192)
  buf.set(hexToBytes(e.inputHash), 224)
  buf.set(hexToBytes(e.outputHash), 256)
  buf.set(keccak256(hexToBytes(e.providerSignature), 'bytes'), 288)
  buf.set(word(Math.max(0, Math.round(e.latencyMs))), 320)
  return bytesToHex(keccak256(keccak256(buf, 'bytes'), 'bytes'))
}

function hashPair(a: Uint8Array, b: Uint8Array): Uint8Array {
  return keccak256(Buffer.compare(a, b) <= 0 ? concatBytes([a, b]) : concatBytes([b, a]), 'bytes')
}

function layers(leaves: readonly Hex[]): Uint8Array[][] {
  const out: Uint8Array[][] = [leaves.map((l) => hexToBytes(l))]
  for (let level = out[0] as Uint8Array[]; level.length > 1; ) {
    const next: Uint8Array[] = []
    for (let i = 0; i < level.length; i += 2) {
      const a = level[i] as Uint8Array
      const b = level[i + 1]
      next.push(b ? hashPair(a, b) : a)
    }
    out.push(next)
    level = next
  }
  return out
}

/**
 * The Merkle root over ledger entries (zero when there are none).
 *
 * @example
 * ```ts
 * receiptRoot(ledger.entries) === receipt.root
 * ```
 */
export function receiptRoot(entries: readonly LedgerEntry[]): Hex {
  if (!entries.length) return zeroHash
  const ls = layers(entries.map(receiptLeaf))
  return bytesToHex(ls[ls.length - 1]?.[0] as Uint8Array)
}

/**
 * The sibling hashes that prove entry `index` is in the receipt.
 *
 * @example
 * ```ts
 * const proof = getReceiptProof(receipt.entries, 2)
 * verifyReceiptProof({ root: receipt.root, leaf: receiptLeaf(receipt.entries[2]), proof }) // true
 * ```
 */
export function getReceiptProof(entries: readonly LedgerEntry[], index: number): Hex[] {
  if (index < 0 || index >= entries.length) throw new RangeError(`no receipt entry ${index}`)
  const proof: Hex[] = []
  const ls = layers(entries.map(receiptLeaf))
  let i = index
  for (let l = 0; l < ls.length - 1; l++) {
    const level = ls[l] as Uint8Array[]
    const sibling = level[i ^ 1]
    if (sibling) proof.push(bytesToHex(sibling))
    i >>= 1
  }
  return proof
}

/**
 * Checks a receipt inclusion proof with sorted-pair keccak256 — the same check as OpenZeppelin `MerkleProof.verify`.
 *
 * @example
 * ```ts
 * verifyReceiptProof({ root, leaf: receiptLeaf(entry), proof })
 * ```
 */
export function verifyReceiptProof(parameters: { root: Hex; leaf: Hex; proof: readonly Hex[] }): boolean {
  let node = hexToBytes(parameters.leaf)
  for (const p of parameters.proof) node = hashPair(node, hexToBytes(p))
  return bytesToHex(node) === parameters.root.toLowerCase()
}

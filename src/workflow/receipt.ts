import { bytesToHex, type Hex, zeroHash } from 'viem'
import { keccak256Bytes, keccak256Hex } from '../pay/keccak.js'
import type { LedgerEntry, SettleResult } from './types.js'

/**
 * A run's receipt: every paid call, Merkle-rooted.
 *
 * Leaf = keccak256(abi.encodePacked(bytes32 idempotencyKey, uint256 assetId, bytes32 laneId, uint128 amount,
 * uint128 cumulative, bytes32 inputHash, bytes32 outputHash, uint32 latencyMs, uint16 providerSignature.length,
 * bytes providerSignature, bytes modelVersion)) — fixed-width fields, then the signature behind its length, then the
 * version's UTF-8 bytes, so the packing is unambiguous. With a 65-byte signature and a version of up to 8 bytes the
 * preimage fits two keccak blocks (it is hashed for every paid call). The idempotency key makes every leaf unique
 * (the entry's index is its position in `entries`, not part of the leaf). A leaf preimage is always longer than 64
 * bytes, so no leaf can pass for an inner node.
 *
 * The tree is built bottom-up over the leaves in ledger order; each inner node is keccak256 of its two children
 * sorted ascending (sorted pairs, as OpenZeppelin `MerkleProof.verify` expects); a node without a sibling moves up
 * a level unchanged. The root of an empty receipt is zero.
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

const hex = (h: Hex) => Buffer.from(h.slice(2), 'hex')

const MAX_128 = 1n << 128n

/** Big-endian unsigned integer of `width` bytes at `offset` (the common small values avoid BigInt arithmetic). */
function writeUint(buf: Buffer, offset: number, width: number, n: bigint): void {
  if (n >= 0n && n < 0x1000000000000n) {
    buf.fill(0, offset, offset + width - 6)
    buf.writeUIntBE(Number(n), offset + width - 6, 6)
    return
  }
  buf.write(n.toString(16).padStart(width * 2, '0'), offset, width, 'hex')
}

function copy32(buf: Buffer, offset: number, h: Hex): void {
  buf.write(h.slice(2).padStart(64, '0'), offset, 32, 'hex')
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
  const sigLength = (e.providerSignature.length - 2) >>> 1
  const versionLength = Buffer.byteLength(e.modelVersion, 'utf8')
  if (e.amount >= MAX_128 || e.cumulative >= MAX_128)
    throw new RangeError('receipt amounts must fit in 128 bits')
  if (sigLength > 0xffff) throw new RangeError('provider signature longer than 65535 bytes')
  const need = 198 + sigLength + versionLength
  if (leafScratch.length < need) leafScratch = Buffer.allocUnsafe(Math.max(need, leafScratch.length * 2))
  const buf = leafScratch
  copy32(buf, 0, e.idempotencyKey)
  writeUint(buf, 32, 32, e.assetId)
  copy32(buf, 64, e.laneId)
  writeUint(buf, 96, 16, e.amount)
  writeUint(buf, 112, 16, e.cumulative)
  copy32(buf, 128, e.inputHash)
  copy32(buf, 160, e.outputHash)
  buf.writeUInt32BE(Math.min(0xffffffff, Math.max(0, Math.round(e.latencyMs))), 192)
  buf.writeUInt16BE(sigLength, 196)
  buf.write(e.providerSignature.slice(2), 198, sigLength, 'hex')
  buf.write(e.modelVersion, 198 + sigLength, versionLength, 'utf8')
  return keccak256Hex(buf.subarray(0, need))
}

// Reused for every leaf (hashing copies it).
let leafScratch = Buffer.allocUnsafe(512)

const pair = Buffer.alloc(64)
function hashPair(a: Uint8Array, b: Uint8Array): Uint8Array {
  const first = Buffer.compare(a, b) <= 0
  pair.set(first ? a : b, 0)
  pair.set(first ? b : a, 32)
  return keccak256Bytes(pair)
}

function layers(leaves: readonly Hex[]): Uint8Array[][] {
  const out: Uint8Array[][] = [leaves.map((l) => hex(l))]
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
  let node: Uint8Array = hex(parameters.leaf)
  for (const p of parameters.proof) node = hashPair(node, hex(p))
  return bytesToHex(node) === parameters.root.toLowerCase()
}

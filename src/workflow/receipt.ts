import { type Hex, zeroHash } from 'viem'
import { merkleLevels, merkleProof, merkleRootOf } from '../pay/merkle.js'
import { sha256Hex } from './ledger.js'
import type { LedgerEntry, SettleResult } from './types.js'

/**
 * A run's receipt: every paid call, Merkle-rooted.
 *
 * Leaf = sha256(abi.encodePacked(bytes32 idempotencyKey, bytes32 laneId, bytes32 inputHash, bytes32 outputHash,
 * uint256 assetId, uint128 amount, uint128 cumulative, uint32 latencyMs, uint16 providerSignature.length,
 * bytes providerSignature, bytes modelVersion)) — fixed-width fields, then the signature behind its length, then the
 * version's UTF-8 bytes, so the packing is unambiguous; a hash field shorter than 32 bytes is left-padded. The
 * idempotency key makes every leaf unique (the entry's index is its position in `entries`, not part of the leaf).
 * Leaves are SHA-256, not keccak256, because one is hashed for every paid call: Node hashes SHA-256 natively, several
 * times faster than keccak256 in JavaScript over this preimage (two keccak blocks); Solidity recomputes a leaf with the
 * `sha256` precompile.
 *
 * The tree is built bottom-up over the leaves in ledger order; each inner node is keccak256 of its two children
 * sorted ascending (sorted pairs, as OpenZeppelin `MerkleProof.verify` expects, so a leaf is proved on chain as is);
 * a node without a sibling moves up a level unchanged. The root of an empty receipt is zero.
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

const LIMIT = { 16: 1n << 128n, 32: 1n << 256n } as const

/** A hash field of at most 32 bytes, left-padded, at `offset`; refuses what is not `0x` hex. */
function write32(buf: Buffer, offset: number, h: Hex, what: string): void {
  const digits = h.length - 2
  if (digits === 64 && buf.write(h.slice(2), offset, 32, 'hex') === 32) return
  const bytes = digits >>> 1
  if (!h.startsWith('0x') || digits % 2 || digits > 64)
    throw new RangeError(`receipt ${what} ${h} is not the hex of at most 32 bytes`)
  buf.fill(0, offset, offset + 32 - bytes)
  if (buf.write(h.slice(2), offset + 32 - bytes, bytes, 'hex') !== bytes)
    throw new RangeError(`receipt ${what} ${h} is not hex`)
}

/** An unsigned integer of `width` bytes, big-endian, at `offset` (small values without BigInt arithmetic). */
function writeUint(buf: Buffer, offset: number, width: 16 | 32, n: bigint, what: string): void {
  if (n >= 0n && n < 0x1000000000000n) {
    buf.fill(0, offset, offset + width - 6)
    buf.writeUIntBE(Number(n), offset + width - 6, 6)
    return
  }
  if (n < 0n || n >= LIMIT[width]) throw new RangeError(`receipt ${what} must fit in ${8 * width} bits`)
  buf.write(n.toString(16).padStart(width * 2, '0'), offset, width, 'hex')
}

// Reused for every leaf (hashing reads it at once).
let leafScratch = Buffer.allocUnsafe(512)

/** The leaf of one entry as bytes (see `Receipt`). */
function leafBytes(e: LedgerEntry): Uint8Array {
  const sig = e.providerSignature
  const sigLength = (sig.length - 2) >>> 1
  if (!sig.startsWith('0x') || sig.length % 2 || sigLength > 0xffff)
    throw new RangeError('provider signature is not hex of ≤ 65535 bytes')
  const versionLength = Buffer.byteLength(e.modelVersion, 'utf8')
  const need = 198 + sigLength + versionLength
  if (leafScratch.length < need) leafScratch = Buffer.allocUnsafe(Math.max(need, leafScratch.length * 2))
  const buf = leafScratch
  write32(buf, 0, e.idempotencyKey, 'idempotencyKey')
  write32(buf, 32, e.laneId, 'laneId')
  write32(buf, 64, e.inputHash, 'inputHash')
  write32(buf, 96, e.outputHash, 'outputHash')
  writeUint(buf, 128, 32, e.assetId, 'assetId')
  writeUint(buf, 160, 16, e.amount, 'amount')
  writeUint(buf, 176, 16, e.cumulative, 'cumulative')
  buf.writeUInt32BE(Math.min(0xffffffff, Math.max(0, Math.round(e.latencyMs))), 192)
  buf.writeUInt16BE(sigLength, 196)
  if (sigLength && buf.write(sig.slice(2), 198, sigLength, 'hex') !== sigLength)
    throw new RangeError(`receipt entry ${e.index} has a provider signature that is not hex`)
  buf.write(e.modelVersion, 198 + sigLength, versionLength, 'utf8')
  // SHA-256's hex output and a decode beat its buffer output
  return Buffer.from(sha256Hex(buf.subarray(0, need)), 'hex')
}

const hex = (b: Uint8Array): Hex => `0x${Buffer.from(b.buffer, b.byteOffset, 32).toString('hex')}`

/**
 * The Merkle leaf of one ledger entry (see `Receipt` for the encoding).
 *
 * @example
 * ```ts
 * const leaf = receiptLeaf(receipt.entries[0])
 * ```
 */
export function receiptLeaf(e: LedgerEntry): Hex {
  return hex(leafBytes(e))
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
  const levels = merkleLevels(entries.map(leafBytes))
  return hex((levels[levels.length - 1] as Uint8Array[])[0] as Uint8Array)
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
  return merkleProof(merkleLevels(entries.map(leafBytes)), index).map(hex)
}

const NODE = /^0x[0-9a-fA-F]{64}$/

/**
 * Checks a receipt inclusion proof with sorted-pair keccak256 — the same check as OpenZeppelin `MerkleProof.verify`.
 * `leaf` must be computed from the entry with {@link receiptLeaf}, never taken as given: like any raw-leaf check, an
 * inner node of the tree passes with the rest of the path as its proof.
 *
 * @example
 * ```ts
 * verifyReceiptProof({ root, leaf: receiptLeaf(entry), proof })
 * ```
 */
export function verifyReceiptProof(parameters: { root: Hex; leaf: Hex; proof: readonly Hex[] }): boolean {
  const node32 = (h: Hex) => {
    if (!NODE.test(h)) throw new RangeError(`receipt node ${h} is not 32 bytes of hex`)
    return Buffer.from(h.slice(2), 'hex')
  }
  const root = merkleRootOf(node32(parameters.leaf), parameters.proof.map(node32))
  return hex(root) === parameters.root.toLowerCase()
}

import { type Hex, zeroHash } from 'viem'
import { keccak256Bytes } from '../pay/keccak.js'
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

const ZEROS = '0'.repeat(64)

/** A 32-byte field as 64 hex digits; a shorter value is left-padded with zeros, as a number is. */
function hex32(h: Hex): string {
  const body = h.slice(2)
  if (body.length === 64) return body
  if (body.length > 64 || body.length % 2)
    throw new RangeError(`receipt field ${h} is not the hex of at most 32 bytes`)
  return ZEROS.slice(body.length) + body
}

const LIMIT = { 16: 1n << 128n, 32: 1n << 256n } as const

/** An unsigned integer of `bytes` bytes as hex digits, big-endian. */
function hexUint(n: bigint, bytes: 16 | 32, what: string): string {
  if (n < 0n || n >= LIMIT[bytes]) throw new RangeError(`receipt ${what} must fit in ${8 * bytes} bits`)
  return (n <= 0x1fffffffffffffn ? Number(n).toString(16) : n.toString(16)).padStart(2 * bytes, '0')
}

// Few distinct versions recur on every call: their UTF-8 hex is kept (bounded).
const versionHex = new Map<string, string>()
function utf8Hex(version: string): string {
  let h = versionHex.get(version)
  if (h === undefined) {
    h = Buffer.from(version, 'utf8').toString('hex')
    if (versionHex.size >= 256) versionHex.clear()
    versionHex.set(version, h)
  }
  return h
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
  const sig = e.providerSignature.slice(2)
  if (sig.length % 2 || sig.length > 0x1fffe)
    throw new RangeError('provider signature is not hex of ≤ 65535 bytes')
  // The whole preimage as hex, decoded in one call (invalid digits stop the decoding short, which is refused).
  const preimage =
    hex32(e.idempotencyKey) +
    hex32(e.laneId) +
    hex32(e.inputHash) +
    hex32(e.outputHash) +
    hexUint(e.assetId, 32, 'assetId') +
    hexUint(e.amount, 16, 'amount') +
    hexUint(e.cumulative, 16, 'cumulative') +
    Math.min(0xffffffff, Math.max(0, Math.round(e.latencyMs)))
      .toString(16)
      .padStart(8, '0') +
    (sig.length >>> 1).toString(16).padStart(4, '0') +
    sig +
    utf8Hex(e.modelVersion)
  const need = preimage.length >>> 1
  if (leafScratch.length < need) leafScratch = Buffer.allocUnsafe(Math.max(need, leafScratch.length * 2))
  if (leafScratch.write(preimage, 0, need, 'hex') !== need)
    throw new RangeError(`receipt entry ${e.index} has a field that is not hex`)
  return `0x${sha256Hex(leafScratch.subarray(0, need))}`
}

// Reused for every leaf (hashing reads it at once).
let leafScratch = Buffer.allocUnsafe(512)

const pair = Buffer.alloc(64)
/** keccak256 of two lowercase nodes sorted ascending (fixed-length lowercase hex sorts as the bytes do). */
function hashPair(a: Hex, b: Hex): Hex {
  pair.write(a < b ? a.slice(2) + b.slice(2) : b.slice(2) + a.slice(2), 0, 64, 'hex')
  const d = keccak256Bytes(pair)
  return `0x${Buffer.from(d.buffer, d.byteOffset, 32).toString('hex')}`
}

/** Every level of the tree, leaves first, as lowercase hex. */
function layers(entries: readonly LedgerEntry[]): Hex[][] {
  const out: Hex[][] = [entries.map(receiptLeaf)]
  for (let level = out[0] as Hex[]; level.length > 1; ) {
    const next: Hex[] = []
    for (let i = 0; i < level.length; i += 2) {
      const a = level[i] as Hex
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
  const ls = layers(entries)
  return ls[ls.length - 1]?.[0] as Hex
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
  const ls = layers(entries)
  let i = index
  for (let l = 0; l < ls.length - 1; l++) {
    const sibling = (ls[l] as Hex[])[i ^ 1]
    if (sibling) proof.push(sibling)
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
  const node32 = (h: Hex) => {
    if (!/^0x[0-9a-fA-F]{64}$/.test(h)) throw new RangeError(`receipt node ${h} is not 32 bytes of hex`)
    return h.toLowerCase() as Hex
  }
  let node = node32(parameters.leaf)
  for (const p of parameters.proof) node = hashPair(node, node32(p))
  return node === parameters.root.toLowerCase()
}

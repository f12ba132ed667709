import { bytesToHex, type Hex, zeroHash } from 'viem'
import { keccak256Bytes, keccak256Hex } from './keccak.js'
import type { LedgerEntry, SettleResult } from './types.js'

/**
 * A run's receipt: every paid call, Merkle-rooted.
 *
 * Leaf i = keccak256(abi.encodePacked(uint256 index, bytes32 idempotencyKey, uint256 assetId, bytes32 laneId,
 * uint256 amount, uint256 cumulative, bytes32 inputHash, bytes32 outputHash, uint256 latencyMs,
 * uint256 providerSignature.length, bytes providerSignature, bytes modelVersion)) — nine 32-byte words, then the
 * signature behind its length, then the version's UTF-8 bytes, so the packing is unambiguous. A leaf preimage is
 * always longer than 64 bytes, so no leaf can pass for an inner node.
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

function writeWord(buf: Buffer, offset: number, n: bigint | number): void {
  if (typeof n === 'number' && n <= Number.MAX_SAFE_INTEGER) {
    buf.writeUIntBE(Math.max(0, Math.round(n)), offset + 26, 6)
    return
  }
  let v = BigInt(n)
  for (let i = offset + 31; i >= offset && v > 0n; i--) {
    buf[i] = Number(v & 0xffn)
    v >>= 8n
  }
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
  const sig = hex(e.providerSignature)
  const version = Buffer.from(e.modelVersion, 'utf8')
  const buf = Buffer.alloc(10 * 32 + sig.length + version.length)
  writeWord(buf, 0, e.index)
  copy32(buf, 32, e.idempotencyKey)
  writeWord(buf, 64, e.assetId)
  copy32(buf, 96, e.laneId)
  writeWord(buf, 128, e.amount)
  writeWord(buf, 160, e.cumulative)
  copy32(buf, 192, e.inputHash)
  copy32(buf, 224, e.outputHash)
  writeWord(buf, 256, e.latencyMs)
  writeWord(buf, 288, sig.length)
  sig.copy(buf, 320)
  version.copy(buf, 320 + sig.length)
  return keccak256Hex(buf)
}

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

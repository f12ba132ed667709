import { keccak256Bytes } from './keccak.js'
import { MalformedSignatureError } from './voucher.js'

// Sorted-pair keccak256 Merkle trees, as OpenZeppelin `MerkleProof.verify` checks them: each inner node
// is keccak256 of its two children sorted ascending; a node without a sibling moves up a level unchanged.

const pair = new Uint8Array(64)

/** keccak256 of the two 32-byte nodes sorted ascending. */
export function hashPair(a: Uint8Array, b: Uint8Array): Uint8Array {
  const first = Buffer.compare(a, b) <= 0
  pair.set(first ? a : b, 0)
  pair.set(first ? b : a, 32)
  return keccak256Bytes(pair)
}

/**
 * Every level of the tree, leaves first, the root alone last. At least one leaf. Nodes are sorted-pair keccak256
 * bytes unless `pair` hashes another form (the run receipt's SHA-256 hex).
 */
export function merkleLevels(leaves: readonly Uint8Array[]): Uint8Array[][]
export function merkleLevels<T>(leaves: readonly T[], pair: (a: T, b: T) => T): T[][]
export function merkleLevels<T>(
  leaves: readonly T[],
  pair: (a: T, b: T) => T = hashPair as unknown as (a: T, b: T) => T,
): T[][] {
  if (!leaves.length) throw new RangeError('a Merkle tree needs at least one leaf')
  const out: T[][] = [leaves as T[]]
  for (let level = leaves; level.length > 1; ) {
    const next: T[] = []
    for (let i = 0; i < level.length; i += 2) {
      const a = level[i] as T
      const b = level[i + 1]
      next.push(b === undefined ? a : pair(a, b))
    }
    out.push(next)
    level = next
  }
  return out
}

/** The sibling nodes that lead from leaf `index` to the root of `levels` (as bytes, or as any form of them). */
export function merkleProof<T>(levels: readonly (readonly T[])[], index: number): T[] {
  const proof: T[] = []
  let i = index
  for (let l = 0; l < levels.length - 1; l++) {
    const sibling = (levels[l] as readonly T[])[i ^ 1]
    if (sibling) proof.push(sibling)
    i >>= 1
  }
  return proof
}

/** The root a leaf and its proof lead to (sorted-pair keccak256 bytes unless `pair` hashes another form). */
export function merkleRootOf(leaf: Uint8Array, proof: readonly Uint8Array[]): Uint8Array
export function merkleRootOf<T>(leaf: T, proof: readonly T[], pair: (a: T, b: T) => T): T
export function merkleRootOf<T>(
  leaf: T,
  proof: readonly T[],
  pair: (a: T, b: T) => T = hashPair as unknown as (a: T, b: T) => T,
): T {
  let node = leaf
  for (const p of proof) node = pair(node, p)
  return node
}

/** Most hashes in a proof that travels (a batch of 2^32 leaves). */
export const MAX_PROOF = 32
/**
 * One node of a proof received from elsewhere, as bytes; throws `MalformedSignatureError` for anything but `0x` and
 * 64 hex digits. Node's hex decoder stops at the first pair that is not hex, so 32 bytes out means 64 digits read.
 */
export function decodeNode(h: unknown, what: string): Uint8Array {
  if (typeof h === 'string' && h.length === 66 && h.charCodeAt(0) === 0x30 && h.charCodeAt(1) === 0x78) {
    const b = Buffer.from(h.slice(2), 'hex')
    if (b.length === 32) return b
  }
  throw new MalformedSignatureError(`a ${what} proof holds 32-byte hex hashes`)
}

/**
 * The nodes of a proof received from elsewhere (a receipt's or a voucher's), as bytes; throws
 * `MalformedSignatureError` for anything but a list of at most 32 hex hashes of 32 bytes.
 */
export function decodeProof(proof: unknown, what: string): Uint8Array[] {
  if (!Array.isArray(proof) || proof.length > MAX_PROOF)
    throw new MalformedSignatureError(`a ${what} proof is a list of at most ${MAX_PROOF} hashes`)
  return proof.map((h: unknown) => decodeNode(h, what))
}

import { type Hex, zeroHash } from 'viem'
import { merkleLevels, merkleProof, merkleRootOf } from '../pay/merkle.js'
import { sha256Hex } from './ledger.js'
import type { LedgerEntry, SettleResult } from './types.js'

/**
 * A run's receipt: every paid call, Merkle-rooted, all in SHA-256.
 *
 * Leaf = sha256 of the UTF-8 text
 * `idempotencyKey:laneId:inputHash:outputHash:assetId:amount:cumulative:latencyMs:providerSignature:modelVersion` —
 * the four hashes as `0x` and 64 lowercase hex digits (a shorter hash is left-padded), the numbers in decimal
 * (latency in whole milliseconds, 0 when not a finite number), the signature as `0x` and lowercase hex, the version as given, last, so the line
 * reads back unambiguously. The idempotency key makes every leaf unique (the entry's index is its position in
 * `entries`, not part of the leaf). A leaf is hashed as text because one is made for every paid call: Node hashes the
 * line as it stands, where packing it into bytes first cost more than the hash; Solidity rebuilds the same line with
 * OpenZeppelin `Strings` and hashes it with the `sha256` precompile.
 *
 * The tree is built bottom-up over the leaves in ledger order; each inner node is sha256 of its two children (32
 * bytes each) sorted ascending; a node without a sibling moves up a level unchanged. On chain a proof checks with
 * OpenZeppelin `MerkleProof.verify(proof, root, leaf, hasher)` and a sorted-pair `sha256` hasher. The root of an
 * empty receipt is zero.
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

const U128 = 1n << 128n
const U256 = 1n << 256n
const HASH = /^0x[0-9a-f]{64}$/
const ANY_HEX = /^0x[0-9a-fA-F]*$/
const SIGNATURE = /^0x(?:[0-9a-f]{2})*$/
const MAX_SIGNATURE_CHARS = 2 + 2 * 0xffff

/** A hash field as the leaf writes it: `0x` and 64 lowercase digits; refuses what is not hex of at most 32 bytes. */
function hashField(h: Hex, what: string): string {
  if (HASH.test(h)) return h
  const digits = h.length - 2
  if (!ANY_HEX.test(h) || digits % 2 || digits > 64)
    throw new RangeError(`receipt ${what} ${h} is not the hex of at most 32 bytes`)
  return `0x${h.slice(2).toLowerCase().padStart(64, '0')}`
}

/** The latency as the leaf writes it: whole milliseconds, 0 to 2^32 − 1, and 0 for what is not a finite number. */
const latencyOf = (ms: number) =>
  Number.isFinite(ms) ? Math.min(0xffffffff, Math.max(0, Math.round(ms))) : 0

const LONE_SURROGATE = /\p{Cs}/u
const checkedVersions = new Set<string>()
/** A version as the leaf writes it: UTF-8 cannot carry a lone surrogate (it would read as U+FFFD). */
function versionOf(v: string): string {
  if (checkedVersions.has(v)) return v
  if (LONE_SURROGATE.test(v))
    throw new RangeError(`receipt modelVersion ${JSON.stringify(v)} is not well-formed text`)
  if (checkedVersions.size >= 1_000) checkedVersions.clear()
  checkedVersions.add(v)
  return v
}

/** The leaf's numbers, `assetId:amount:cumulative:latencyMs`; refuses amounts out of their ranges. */
function numbersOf(e: LedgerEntry): string {
  const { assetId, amount, cumulative } = e
  if (assetId < 0n || assetId >= U256) throw new RangeError('receipt assetId must fit in 256 bits')
  if (amount < 0n || amount >= U128) throw new RangeError('receipt amount must fit in 128 bits')
  if (cumulative < 0n || cumulative >= U128) throw new RangeError('receipt cumulative must fit in 128 bits')
  return `${assetId}:${amount}:${cumulative}:${latencyOf(e.latencyMs)}`
}

/** The leaf's text of one entry (see `Receipt`). */
function leafText(e: LedgerEntry): string {
  let sig: string = e.providerSignature
  if (!SIGNATURE.test(sig) || sig.length > MAX_SIGNATURE_CHARS) {
    if (!ANY_HEX.test(sig) || sig.length % 2 || sig.length > MAX_SIGNATURE_CHARS)
      throw new RangeError(
        `receipt entry ${e.index} has a provider signature that is not hex of ≤ 65535 bytes`,
      )
    sig = sig.toLowerCase()
  }
  return `${hashField(e.idempotencyKey, 'idempotencyKey')}:${hashField(e.laneId, 'laneId')}:${hashField(
    e.inputHash,
    'inputHash',
  )}:${hashField(e.outputHash, 'outputHash')}:${numbersOf(e)}:${sig}:${versionOf(e.modelVersion)}`
}

const encoder = new TextEncoder()
// Reused for every leaf (hashing reads it at once).
let lineBytes = new Uint8Array(1024)
const LOWER_HEX_DIGIT = new Uint8Array(256)
for (const c of '0123456789abcdef') LOWER_HEX_DIGIT[c.charCodeAt(0)] = 1

/** Whether bytes [from, to) are `0x` and lowercase hex digits. */
function isLowerHex(b: Uint8Array, from: number, to: number): boolean {
  if (b[from] !== 0x30 || b[from + 1] !== 0x78) return false
  for (let i = from + 2; i < to; i++) if (!LOWER_HEX_DIGIT[b[i] as number]) return false
  return true
}

/**
 * The leaf of one entry as 64 hex digits, without `0x`. Fast path for an entry already in canonical form (every
 * paid call's, on the engine's hot path): the line is encoded once, its hex fields are checked on those bytes (a loop
 * over a table, several times cheaper here than a regular expression per field) and the same bytes are hashed.
 * Anything else goes through `leafText`, which normalizes the hex case and padding or says what is wrong.
 */
function leafDigits(e: LedgerEntry): string {
  const { idempotencyKey: k, laneId: l, inputHash: i, outputHash: o, providerSignature: sig } = e
  if (
    k.length !== 66 ||
    l.length !== 66 ||
    i.length !== 66 ||
    o.length !== 66 ||
    sig.length % 2 ||
    sig.length > MAX_SIGNATURE_CHARS
  )
    return sha256Hex(leafText(e))
  const numbers = numbersOf(e)
  const text = `${k}:${l}:${i}:${o}:${numbers}:${sig}:${versionOf(e.modelVersion)}`
  // the version may be any text: at most 3 UTF-8 bytes per UTF-16 unit
  if (lineBytes.length < text.length * 3) lineBytes = new Uint8Array(text.length * 3)
  const b = lineBytes
  const { written } = encoder.encodeInto(text, b)
  // everything before the version is ASCII: byte offsets are string offsets
  const at = 269 + numbers.length
  return isLowerHex(b, 0, 66) &&
    isLowerHex(b, 67, 133) &&
    isLowerHex(b, 134, 200) &&
    isLowerHex(b, 201, 267) &&
    isLowerHex(b, at, at + sig.length)
    ? sha256Hex(b.subarray(0, written))
    : sha256Hex(leafText(e))
}

// Reused for every inner node (hashing reads it at once).
const pair = Buffer.allocUnsafe(64)

/** sha256 of two nodes (64 lowercase hex digits each) sorted ascending, as 64 hex digits. */
function hashPair(a: string, b: string): string {
  // equal-length lowercase hex compares as the bytes it encodes
  pair.write(a < b ? a + b : b + a, 0, 64, 'hex')
  return sha256Hex(pair)
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
  return `0x${leafDigits(e)}`
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
  const levels = merkleLevels(entries.map(leafDigits), hashPair)
  return `0x${(levels[levels.length - 1] as string[])[0] as string}`
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
  return merkleProof(merkleLevels(entries.map(leafDigits), hashPair), index).map((n): Hex => `0x${n}`)
}

const NODE = /^0x[0-9a-fA-F]{64}$/

/**
 * Checks a receipt inclusion proof with sorted-pair SHA-256 — the check OpenZeppelin `MerkleProof.verify` makes with
 * a sorted-pair `sha256` hasher. `leaf` must be computed from the entry with {@link receiptLeaf}, never taken as given:
 * like any raw-leaf check, an inner node of the tree passes with the rest of the path as its proof.
 *
 * @example
 * ```ts
 * verifyReceiptProof({ root, leaf: receiptLeaf(entry), proof })
 * ```
 */
export function verifyReceiptProof(parameters: { root: Hex; leaf: Hex; proof: readonly Hex[] }): boolean {
  const node = (h: Hex) => {
    if (!NODE.test(h)) throw new RangeError(`receipt node ${h} is not 32 bytes of hex`)
    return h.slice(2).toLowerCase()
  }
  const root = merkleRootOf(node(parameters.leaf), parameters.proof.map(node), hashPair)
  return `0x${root}` === parameters.root.toLowerCase()
}

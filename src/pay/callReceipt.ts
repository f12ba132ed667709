import { type Address, type Hex, hexToBytes, keccak256, toBytes } from 'viem'
import { digestBuffer, domainSeparatorOf, perDomain } from './eip712.js'
import { type KeccakPrefix, keccak256Bytes, keccak256Prefix, keccak256Resume } from './keccak.js'
import { bytes32, writeUint256 } from './voucher.js'

/**
 * What a provider vouches for after a paid call: the model and version that ran, the hashes of the input it
 * received and the output it sent (keccak256 of their canonical JSON), the price charged for this call,
 * the lane, the payer's voucher that came with the call, and `cumulative` — everything the provider has
 * charged on the lane after this call (the amount a settlement of the lane should use; it never exceeds
 * a voucher the payer signed).
 */
export type CallReceipt = {
  laneId: Hex
  assetId: bigint
  model: string
  version: string
  inputHash: Hex
  outputHash: Hex
  /** The price of this call. */
  amount: bigint
  /** Everything charged on the lane so far, this call included. */
  cumulative: bigint
  /** The cumulative amount of the voucher the payer sent with this call. */
  voucher: bigint
}

/** EIP-712 types of a call receipt. */
export const callReceiptTypes = {
  CallReceipt: [
    { name: 'laneId', type: 'bytes32' },
    { name: 'assetId', type: 'uint256' },
    { name: 'model', type: 'string' },
    { name: 'version', type: 'string' },
    { name: 'inputHash', type: 'bytes32' },
    { name: 'outputHash', type: 'bytes32' },
    { name: 'amount', type: 'uint256' },
    { name: 'cumulative', type: 'uint256' },
    { name: 'voucher', type: 'uint256' },
  ],
} as const

/**
 * What a provider signs: the root of a batch of call receipts. The leaves are the receipts' EIP-712 struct
 * hashes (`hashStruct` of {@link callReceiptTypes}), the tree is sorted-pair keccak256 (OpenZeppelin
 * `MerkleProof`), and a batch of one receipt has that receipt's struct hash as its root. Each paid call is
 * answered with the signature and the proof of its own receipt, so a provider answering many calls at once
 * signs once for all of them.
 */
export const callReceiptBatchTypes = {
  CallReceipts: [{ name: 'root', type: 'bytes32' }],
} as const

/** The receipt's EIP-712 domain: bound to the chain and the ledger, named apart from vouchers. */
export function callReceiptDomain(chainId: number, ledger: Address) {
  return { name: 'tributary-receipt', version: '1', chainId, verifyingContract: ledger } as const
}

const RECEIPT_TYPEHASH = hexToBytes(
  keccak256(
    toBytes(
      'CallReceipt(bytes32 laneId,uint256 assetId,string model,string version,bytes32 inputHash,bytes32 outputHash,uint256 amount,uint256 cumulative,uint256 voucher)',
    ),
  ),
)

const BATCH_TYPEHASH = hexToBytes(keccak256(toBytes('CallReceipts(bytes32 root)')))

/** Computes receipt hashes with the domain separator and string hashes cached. */
export type CallReceiptHasher = {
  /** The receipt's EIP-712 struct hash: its leaf in a signed batch. */
  structHash(r: CallReceipt): Uint8Array
  /** The EIP-712 digest of `CallReceipts(root)`: what the provider signs. */
  batchDigest(root: Uint8Array): Uint8Array
  domainSeparator: Hex
}

const stringHashes = new Map<string, Uint8Array>()
const hashString = (s: string) => {
  let h = stringHashes.get(s)
  if (!h) {
    h = keccak256Bytes(toBytes(s))
    if (stringHashes.size > 10_000) stringHashes.clear()
    stringHashes.set(s, h)
  }
  return h
}

/**
 * The cached hash computer for receipts on (chainId, ledger); agrees with viem's `hashStruct` over
 * {@link callReceiptTypes} and `hashTypedData` over {@link callReceiptBatchTypes} and {@link callReceiptDomain}.
 */
export const callReceiptHasher = perDomain((chainId: number, ledger: Address): CallReceiptHasher => {
  const domainSeparator = domainSeparatorOf('tributary-receipt', '1', chainId, ledger)
  const struct = new Uint8Array(320)
  struct.set(RECEIPT_TYPEHASH, 0)
  const outer = digestBuffer(domainSeparator)
  const last: { laneId: string; assetId: bigint; model: string; version: string } = {
    laneId: '',
    assetId: -1n,
    model: '',
    version: '',
  }
  let head: KeccakPrefix | undefined
  const batch = new Uint8Array(64)
  batch.set(BATCH_TYPEHASH, 0)
  return {
    domainSeparator,
    batchDigest(root) {
      batch.set(root, 32)
      outer.set(keccak256Bytes(batch), 34)
      return keccak256Bytes(outer)
    },
    structHash(r) {
      // the lane, asset, model and version repeat call after call: they fill the struct's first block
      // (bytes 0-135), absorbed once while they stay the same
      if (
        r.laneId !== last.laneId ||
        r.assetId !== last.assetId ||
        r.model !== last.model ||
        r.version !== last.version ||
        !head
      ) {
        head = undefined
        struct.set(bytes32(r.laneId), 32)
        writeUint256(struct, 64, r.assetId)
        struct.set(hashString(r.model), 96)
        struct.set(hashString(r.version), 128)
        head = keccak256Prefix(struct.subarray(0, 136))
        last.laneId = r.laneId
        last.assetId = r.assetId
        last.model = r.model
        last.version = r.version
      }
      struct.set(bytes32(r.inputHash), 160)
      struct.set(bytes32(r.outputHash), 192)
      writeUint256(struct, 224, r.amount)
      writeUint256(struct, 256, r.cumulative)
      writeUint256(struct, 288, r.voucher)
      return keccak256Resume(head, struct)
    },
  }
})

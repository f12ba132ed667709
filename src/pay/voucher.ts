import { createRequire } from 'node:module'
import { type Address, bytesToHex, type Hex, hexToBytes, keccak256, toBytes } from 'viem'
import { BaseError } from '../errors/base.js'
import { digestBuffer, domainSeparatorOf, perDomain } from './eip712.js'
import { keccak256Bytes } from './keccak.js'

/** EIP-712 types of a voucher: the cumulative amount the payer owes on a lane. */
export const voucherTypes = {
  Voucher: [
    { name: 'laneId', type: 'bytes32' },
    { name: 'cumulative', type: 'uint256' },
  ],
} as const

/**
 * EIP-712 types of a voucher batch: the payer signs the sorted-pair Merkle root of the struct hashes of
 * the vouchers it issues together; each voucher then travels with its proof.
 */
export const voucherBatchTypes = { Vouchers: [{ name: 'root', type: 'bytes32' }] } as const

/** The EIP-712 domain: bound to the chain and the ledger contract. */
export function voucherDomain(chainId: number, ledger: Address) {
  return { name: 'tributary', version: '1', chainId, verifyingContract: ledger } as const
}

/** A voucher signature is not 65 bytes, or its s or v is out of range. */
export class MalformedSignatureError extends BaseError {
  override name = 'MalformedSignatureError' as const
}

type Secp = {
  ecdsaRecover(sig: Uint8Array, recid: number, msg: Uint8Array, compressed: boolean): Uint8Array
  ecdsaSign(msg: Uint8Array, key: Uint8Array): { signature: Uint8Array; recid: number }
}

let secp: Secp | null | undefined
/** The native secp256k1 binding (prebuilt in the npm package), or null where it cannot load. */
export function nativeSecp256k1(): Secp | null {
  if (secp === undefined) {
    try {
      secp = createRequire(import.meta.url)('secp256k1/bindings') as Secp
    } catch {
      secp = null
    }
  }
  return secp
}

const VOUCHER_TYPEHASH = hexToBytes(keccak256(toBytes('Voucher(bytes32 laneId,uint256 cumulative)')))
const VOUCHERS_TYPEHASH = hexToBytes(keccak256(toBytes('Vouchers(bytes32 root)')))
const SECP_N_HALF = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n

/**
 * A voucher digest computer with the domain separator computed once: the per-voucher work is two
 * keccak256 over fixed-size buffers, no ABI encoding.
 */
export type VoucherHasher = {
  /** The EIP-712 digest of `Voucher(laneId, cumulative)`: what a payer signs for one voucher alone. */
  digest(laneId: Hex, cumulative: bigint): Uint8Array
  /** The voucher's EIP-712 struct hash: its leaf in a signed batch (a new array). */
  structHash(laneId: Hex, cumulative: bigint): Uint8Array
  /** The EIP-712 digest of `Vouchers(root)`: what a payer signs for a batch. */
  batchDigest(root: Uint8Array): Uint8Array
  domainSeparator: Hex
}

/** The cached digest computer for a (chainId, ledger). Agrees with viem's `hashTypedData`. */
export const voucherHasher = perDomain((chainId: number, ledger: Address): VoucherHasher => {
  const domainSeparator = domainSeparatorOf('tributary', '1', chainId, ledger)
  const struct = new Uint8Array(96)
  struct.set(VOUCHER_TYPEHASH, 0)
  const outer = digestBuffer(domainSeparator)
  // a payer signs many vouchers on one lane: decode its id only when it changes
  let lastLane = ''
  const structHash = (laneId: Hex, cumulative: bigint) => {
    if (laneId !== lastLane) {
      struct.set(bytes32(laneId), 32)
      lastLane = laneId
    }
    writeUint256(struct, 64, cumulative)
    return keccak256Bytes(struct)
  }
  const batch = new Uint8Array(64)
  batch.set(VOUCHERS_TYPEHASH, 0)
  return {
    domainSeparator,
    structHash,
    digest(laneId, cumulative) {
      outer.set(structHash(laneId, cumulative), 34)
      return keccak256Bytes(outer)
    },
    batchDigest(root) {
      batch.set(root, 32)
      outer.set(keccak256Bytes(batch), 34)
      return keccak256Bytes(outer)
    },
  }
})

/** 32 bytes of a 0x-prefixed hex string, through Buffer's native decoder. */
export function bytes32(h: Hex): Uint8Array {
  const b = Buffer.from(h.slice(2), 'hex')
  if (b.length !== 32 || h.length !== 66 || !h.startsWith('0x'))
    throw new TypeError(`not a 32-byte hex value: ${h}`)
  return b
}

/**
 * Writes a uint256 big-endian: amounts below 2^53 (every real price and cumulative) with number
 * arithmetic, larger ones through one native hex decode instead of 64 bigint operations.
 */
export function writeUint256(buf: Uint8Array, offset: number, v: bigint) {
  if (v >= 0n && v <= 9007199254740991n) {
    let x = Number(v)
    for (let i = offset + 31; i >= offset + 24; i--) {
      buf[i] = x % 256
      x = Math.floor(x / 256)
    }
    buf.fill(0, offset, offset + 24)
    return
  }
  if (v < 0n || v >= 1n << 256n) throw new RangeError(`not a uint256: ${v}`)
  buf.set(Buffer.from(v.toString(16).padStart(64, '0'), 'hex'), offset)
}

const keyBytes = new Map<string, Uint8Array>()
/** A private key's bytes, decoded once per key (the provider and each payer sign with one key). */
function secretOf(privateKey: Hex): Uint8Array {
  let k = keyBytes.get(privateKey)
  if (!k) {
    k = bytes32(privateKey)
    if (keyBytes.size > 1_000) keyBytes.clear()
    keyBytes.set(privateKey, k)
  }
  return k
}

/** Signs a digest with a raw private key through the native binding; null when it is unavailable. */
export function signDigestNative(digest: Uint8Array, privateKey: Hex): Hex | null {
  const s = nativeSecp256k1()
  if (!s) return null
  const { signature, recid } = s.ecdsaSign(digest, secretOf(privateKey))
  const out = Buffer.allocUnsafe(65)
  out.set(signature, 0)
  out[64] = 27 + recid
  return `0x${out.toString('hex')}`
}

// s must be at most n/2 (EIP-2): its 32 big-endian bytes compared with those of n/2
const SECP_N_HALF_BYTES = Buffer.from(SECP_N_HALF.toString(16).padStart(64, '0'), 'hex')
// addresses of recovered keys: a lane's vouchers, or a provider's receipts, come from one key
const addresses = new Map<string, Address>()

/**
 * Recovers the signer of a digest from a 65-byte (r, s, v) signature, with the ledger's rules: low s,
 * v of 27 or 28. Synchronous, through the native binding; undefined when the binding is unavailable.
 * Throws {@link MalformedSignatureError}.
 */
export function recoverDigestSignerNative(digest: Uint8Array, signature: Hex): Address | undefined {
  const sig = Buffer.from(signature.slice(2), 'hex')
  if (sig.length !== 65 || signature.length !== 132 || !signature.startsWith('0x'))
    throw new MalformedSignatureError(`a signature has 65 bytes of hex, got ${signature.length} characters`)
  const v = sig[64] as number
  if (v !== 27 && v !== 28) throw new MalformedSignatureError(`signature v must be 27 or 28, got ${v}`)
  if (Buffer.compare(sig.subarray(32, 64), SECP_N_HALF_BYTES) > 0)
    throw new MalformedSignatureError('signature s is in the upper half (malleable)')
  const native = nativeSecp256k1()
  if (!native) return undefined
  let pub: Uint8Array
  try {
    pub = native.ecdsaRecover(sig.subarray(0, 64), v - 27, digest, false)
  } catch (err) {
    throw new MalformedSignatureError('the signature does not recover to any key', { cause: err })
  }
  const key = Buffer.from(pub.buffer, pub.byteOffset + 1, 64)
  const k = key.toString('latin1')
  const known = addresses.get(k)
  if (known) return known
  const hash = keccak256Bytes(key)
  const address = `0x${Buffer.from(hash.buffer, hash.byteOffset + 12, 20).toString('hex')}` as Address
  if (addresses.size >= 4_096) addresses.clear()
  addresses.set(k, address)
  return address
}

/**
 * Recovers the signer of a digest from a 65-byte (r, s, v) signature, with the ledger's rules: low s,
 * v of 27 or 28. Native binding when available, viem otherwise.
 */
export async function recoverDigestSigner(digest: Uint8Array, signature: Hex): Promise<Address> {
  const native = recoverDigestSignerNative(digest, signature)
  if (native) return native
  const { recoverAddress } = await import('viem')
  return recoverAddress({ hash: bytesToHex(digest), signature })
}

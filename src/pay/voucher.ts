import { createRequire } from 'node:module'
import { type Address, bytesToHex, encodeAbiParameters, type Hex, hexToBytes, keccak256, toBytes } from 'viem'
import { BaseError } from '../errors/base.js'
import { keccak256Bytes } from './keccak.js'

/** EIP-712 types of a voucher: the cumulative amount the payer owes on a lane. */
export const voucherTypes = {
  Voucher: [
    { name: 'laneId', type: 'bytes32' },
    { name: 'cumulative', type: 'uint256' },
  ],
} as const

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

const DOMAIN_TYPEHASH = keccak256(
  toBytes('EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)'),
)
const VOUCHER_TYPEHASH = hexToBytes(keccak256(toBytes('Voucher(bytes32 laneId,uint256 cumulative)')))
const SECP_N_HALF = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n

/**
 * A voucher digest computer with the domain separator computed once: the per-voucher work is two
 * keccak256 over fixed-size buffers, no ABI encoding.
 */
export type VoucherHasher = { digest(laneId: Hex, cumulative: bigint): Uint8Array; domainSeparator: Hex }

const hashers = new Map<string, VoucherHasher>()

/** The cached digest computer for a (chainId, ledger). Agrees with viem's `hashTypedData`. */
export function voucherHasher(chainId: number, ledger: Address): VoucherHasher {
  const key = `${chainId}:${ledger.toLowerCase()}`
  let h = hashers.get(key)
  if (h) return h
  const domainSeparator = keccak256(
    encodeAbiParameters(
      [
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'uint256' },
        { type: 'address' },
      ],
      [DOMAIN_TYPEHASH, keccak256(toBytes('tributary')), keccak256(toBytes('1')), BigInt(chainId), ledger],
    ),
  )
  const struct = new Uint8Array(96)
  struct.set(VOUCHER_TYPEHASH, 0)
  const outer = new Uint8Array(66)
  outer[0] = 0x19
  outer[1] = 0x01
  outer.set(hexToBytes(domainSeparator), 2)
  h = {
    domainSeparator,
    digest(laneId, cumulative) {
      struct.set(hexToBytes(laneId), 32)
      writeUint256(struct, 64, cumulative)
      outer.set(keccak256Bytes(struct), 34)
      return keccak256Bytes(outer)
    },
  }
  hashers.set(key, h)
  return h
}

function writeUint256(buf: Uint8Array, offset: number, v: bigint) {
  let x = v
  for (let i = 31; i >= 0; i--) {
    buf[offset + i] = Number(x & 0xffn)
    x >>= 8n
  }
}

/** Signs a digest with a raw private key through the native binding; null when it is unavailable. */
export function signDigestNative(digest: Uint8Array, privateKey: Hex): Hex | null {
  const s = nativeSecp256k1()
  if (!s) return null
  const { signature, recid } = s.ecdsaSign(digest, hexToBytes(privateKey))
  const out = new Uint8Array(65)
  out.set(signature, 0)
  out[64] = 27 + recid
  return bytesToHex(out)
}

/**
 * Recovers the signer of a digest from a 65-byte (r, s, v) signature, with the ledger's rules: low s,
 * v of 27 or 28. Native binding when available, viem otherwise.
 */
export async function recoverDigestSigner(digest: Uint8Array, signature: Hex): Promise<Address> {
  const sig = hexToBytes(signature)
  if (sig.length !== 65)
    throw new MalformedSignatureError(`a voucher signature has 65 bytes, got ${sig.length}`)
  const v = sig[64] as number
  if (v !== 27 && v !== 28) throw new MalformedSignatureError(`signature v must be 27 or 28, got ${v}`)
  const sValue = BigInt(bytesToHex(sig.subarray(32, 64)))
  if (sValue > SECP_N_HALF) throw new MalformedSignatureError('signature s is in the upper half (malleable)')
  const native = nativeSecp256k1()
  if (native) {
    let pub: Uint8Array
    try {
      pub = native.ecdsaRecover(sig.subarray(0, 64), v - 27, digest, false)
    } catch (err) {
      throw new MalformedSignatureError('the signature does not recover to any key', { cause: err })
    }
    const hash = keccak256Bytes(pub.subarray(1))
    return bytesToHex(hash.subarray(12)) as Address
  }
  const { recoverAddress } = await import('viem')
  return recoverAddress({ hash: bytesToHex(digest), signature })
}

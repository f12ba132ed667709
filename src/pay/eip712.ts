import { type Address, encodeAbiParameters, type Hex, hexToBytes, keccak256, toBytes } from 'viem'

const DOMAIN_TYPEHASH = keccak256(
  toBytes('EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)'),
)

/** The EIP-712 domain separator of (name, version, chainId, verifyingContract). */
export function domainSeparatorOf(
  name: string,
  version: string,
  chainId: number,
  verifyingContract: Address,
): Hex {
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'uint256' },
        { type: 'address' },
      ],
      [
        DOMAIN_TYPEHASH,
        keccak256(toBytes(name)),
        keccak256(toBytes(version)),
        BigInt(chainId),
        verifyingContract,
      ],
    ),
  )
}

/** `0x1901 ‖ domainSeparator ‖ (32 bytes for the struct hash)`: what the final digest hashes. */
export function digestBuffer(domainSeparator: Hex): Uint8Array {
  const outer = new Uint8Array(66)
  outer[0] = 0x19
  outer[1] = 0x01
  outer.set(hexToBytes(domainSeparator), 2)
  return outer
}

/**
 * Memoizes a digest computer per (chainId, verifying contract), with a one-entry fast path for the
 * common case of one chain and one ledger.
 */
export function perDomain<H>(
  make: (chainId: number, ledger: Address) => H,
): (chainId: number, ledger: Address) => H {
  const made = new Map<string, H>()
  let last: { chainId: number; ledger: string; h: H } | undefined
  return (chainId, ledger) => {
    if (last && chainId === last.chainId && ledger === last.ledger) return last.h
    const key = `${chainId}:${ledger.toLowerCase()}`
    let h = made.get(key)
    if (h === undefined) {
      h = make(chainId, ledger)
      made.set(key, h)
    }
    last = { chainId, ledger, h }
    return h
  }
}

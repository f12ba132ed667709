import { type Hex, hashTypedData, hexToBytes, keccak256, recoverTypedDataAddress, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, test } from 'vitest'
import { signVoucher } from '../../src/pay/signVoucher.js'
import { verifyVoucher } from '../../src/pay/verifyVoucher.js'
import { nativeSecp256k1, voucherDomain, voucherHasher, voucherTypes } from '../../src/pay/voucher.js'

const privateKey = keccak256(toHex('voucher test payer'))
const account = privateKeyToAccount(privateKey)
const ledger = '0x5FbDB2315678afecb367f032d93F642f64180aa3'
const chainId = 31337

describe('vouchers', () => {
  test('the native binding is loaded (prebuilt, no install script)', () => {
    expect(nativeSecp256k1()).not.toBeNull()
  })

  test('the fixed encoder agrees with viem hashTypedData, and native signing with viem signTypedData', async () => {
    for (const [i, cumulative] of [0n, 1n, 2_000n, 10n ** 20n, 2n ** 96n - 1n].entries()) {
      const laneId = keccak256(toHex(`lane ${i}`))
      const viemDigest = hashTypedData({
        domain: voucherDomain(chainId, ledger),
        types: voucherTypes,
        primaryType: 'Voucher',
        message: { laneId, cumulative },
      })
      expect(toHex(voucherHasher(chainId, ledger).digest(laneId, cumulative))).toBe(viemDigest)
      const fast = await signVoucher({ account, privateKey, chainId, ledger, laneId, cumulative })
      const generic = await signVoucher({ account, chainId, ledger, laneId, cumulative })
      // both RFC 6979 deterministic: the same signature byte for byte
      expect(fast).toBe(generic)
      expect(
        await recoverTypedDataAddress({
          domain: voucherDomain(chainId, ledger),
          types: voucherTypes,
          primaryType: 'Voucher',
          message: { laneId, cumulative },
          signature: fast,
        }),
      ).toBe(account.address)
      expect(
        await verifyVoucher({ chainId, ledger, laneId, cumulative, signature: fast, payer: account.address }),
      ).toEqual({ valid: true, signer: account.address.toLowerCase() })
    }
  })

  test('refuses vouchers for another chain, another ledger, another amount or another signer', async () => {
    const laneId = keccak256(toHex('lane'))
    const signature = await signVoucher({ account, privateKey, chainId, ledger, laneId, cumulative: 5_000n })
    const base = { chainId, ledger, laneId, cumulative: 5_000n, signature, payer: account.address } as const
    expect((await verifyVoucher({ ...base, chainId: 1 })).valid).toBe(false)
    expect(
      (await verifyVoucher({ ...base, ledger: '0x0000000000000000000000000000000000000001' })).valid,
    ).toBe(false)
    expect((await verifyVoucher({ ...base, cumulative: 6_000n })).valid).toBe(false)
    expect((await verifyVoucher({ ...base, laneId: keccak256(toHex('other lane')) })).valid).toBe(false)
    const other = privateKeyToAccount(keccak256(toHex('someone else')))
    const r = await verifyVoucher({ ...base, payer: other.address })
    expect(r).toMatchObject({ valid: false, reason: 'wrong-signer' })
    if (!r.valid) expect(r.message).toMatch(/not by the lane's payer/)
  })

  test('refuses malformed signatures the ledger would refuse: length, v, high s', async () => {
    const laneId = keccak256(toHex('lane'))
    const signature = await signVoucher({ account, privateKey, chainId, ledger, laneId, cumulative: 1n })
    const base = { chainId, ledger, laneId, cumulative: 1n, payer: account.address } as const
    expect(await verifyVoucher({ ...base, signature: '0x1234' })).toMatchObject({
      valid: false,
      reason: 'malformed',
    })
    const badV = `${signature.slice(0, 130)}1f` as Hex
    expect(await verifyVoucher({ ...base, signature: badV })).toMatchObject({
      valid: false,
      reason: 'malformed',
    })
    // the malleable twin (n - s, flipped v) recovers the same key: the ledger refuses it, so must we
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
    const bytes = hexToBytes(signature)
    const s = BigInt(toHex(bytes.subarray(32, 64)))
    const twin =
      `${signature.slice(0, 66)}${(n - s).toString(16).padStart(64, '0')}${bytes[64] === 27 ? '1c' : '1b'}` as Hex
    expect(await verifyVoucher({ ...base, signature: twin })).toMatchObject({
      valid: false,
      reason: 'malformed',
    })
  })
})

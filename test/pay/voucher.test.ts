import {
  concat,
  type Hex,
  hashStruct,
  hashTypedData,
  hexToBytes,
  keccak256,
  recoverTypedDataAddress,
  toHex,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, test } from 'vitest'
import { createVoucherSigner } from '../../src/pay/createVoucherSigner.js'
import { signVoucher } from '../../src/pay/signVoucher.js'
import { signVouchers } from '../../src/pay/signVouchers.js'
import { verifyVoucher, voucherTrees } from '../../src/pay/verifyVoucher.js'
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

describe('vouchers signed in batches', () => {
  const batchTypes = { Vouchers: [{ name: 'root', type: 'bytes32' }] } as const
  // the tree built independently of src/pay/merkle.ts: sorted-pair keccak, an odd node moves up
  const leafOf = (laneId: Hex, cumulative: bigint) =>
    hashStruct({ types: voucherTypes, primaryType: 'Voucher', data: { laneId, cumulative } })
  const pairOf = (a: Hex, b: Hex) => keccak256(concat(BigInt(a) <= BigInt(b) ? [a, b] : [b, a]))
  const foldProof = (leaf: Hex, proof: readonly Hex[]) => proof.reduce(pairOf, leaf)
  const rootOf = (leaves: Hex[]): Hex => {
    let level = leaves
    while (level.length > 1) {
      const next: Hex[] = []
      for (let i = 0; i < level.length; i += 2)
        next.push(i + 1 < level.length ? pairOf(level[i] as Hex, level[i + 1] as Hex) : (level[i] as Hex))
      level = next
    }
    return level[0] as Hex
  }
  const claims = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      laneId: keccak256(toHex(`lane ${i % 2}`)),
      cumulative: 10n * BigInt(i + 1),
    }))

  test('one signature over the root of the struct hashes, as viem signs Vouchers(root); each proof leads to it', async () => {
    for (const n of [2, 3, 5, 8]) {
      const vouchers = claims(n)
      const fast = await signVouchers({ account, privateKey, chainId, ledger, vouchers })
      const generic = await signVouchers({ account, chainId, ledger, vouchers })
      expect(fast).toEqual(generic)
      const root = rootOf(vouchers.map((v) => leafOf(v.laneId, v.cumulative)))
      expect(
        await recoverTypedDataAddress({
          domain: voucherDomain(chainId, ledger),
          types: batchTypes,
          primaryType: 'Vouchers',
          message: { root },
          signature: fast.signature,
        }),
      ).toBe(account.address)
      for (const [i, v] of vouchers.entries()) {
        const proof = fast.proofs[i] as Hex[]
        expect(foldProof(leafOf(v.laneId, v.cumulative), proof)).toBe(root)
        const r = await verifyVoucher({
          chainId,
          ledger,
          ...v,
          signature: fast.signature,
          proof,
          payer: account.address,
        })
        expect(r.valid).toBe(true)
      }
    }
  })

  test('a voucher alone is signed as a plain Voucher with an empty proof', async () => {
    const [v] = claims(1) as [{ laneId: Hex; cumulative: bigint }]
    const { signature, proofs } = await signVouchers({ account, privateKey, chainId, ledger, vouchers: [v] })
    expect(proofs).toEqual([[]])
    expect(signature).toBe(await signVoucher({ account, privateKey, chainId, ledger, ...v }))
  })

  test('refuses another amount, another lane, a proof of another voucher, another signer or a malformed proof', async () => {
    const vouchers = claims(4)
    const { signature, proofs } = await signVouchers({ account, privateKey, chainId, ledger, vouchers })
    const v = vouchers[1] as { laneId: Hex; cumulative: bigint }
    const base = {
      chainId,
      ledger,
      ...v,
      signature,
      proof: proofs[1] as Hex[],
      payer: account.address,
    } as const
    expect((await verifyVoucher(base)).valid).toBe(true)
    expect((await verifyVoucher({ ...base, cumulative: v.cumulative + 10n })).valid).toBe(false)
    expect((await verifyVoucher({ ...base, laneId: keccak256(toHex('lane 9')) })).valid).toBe(false)
    expect((await verifyVoucher({ ...base, proof: proofs[2] as Hex[] })).valid).toBe(false)
    // without its proof the batch signature is not a signature of the voucher alone
    expect((await verifyVoucher({ ...base, proof: [] })).valid).toBe(false)
    expect((await verifyVoucher({ ...base, chainId: 1 })).valid).toBe(false)
    const other = privateKeyToAccount(keccak256(toHex('someone else')))
    expect(await verifyVoucher({ ...base, payer: other.address })).toMatchObject({
      valid: false,
      reason: 'wrong-signer',
    })
    for (const proof of [['0x12'], Array(33).fill(keccak256('0x01')), 'nope']) {
      const r = await verifyVoucher({ ...base, proof: proof as Hex[] })
      expect(r).toMatchObject({ valid: false, reason: 'malformed' })
    }
  })

  test('createVoucherSigner: the vouchers of one lane asked for in one turn share a signature, recovered once; lanes never share a tree', async () => {
    const signer = createVoucherSigner({ account, privateKey, chainId, ledger })
    // 3 vouchers on lane 0 and 3 on lane 1, interleaved
    const vouchers = claims(6)
    const signed = await Promise.all(vouchers.map((v) => signer.sign(v)))
    expect(signer.stats).toEqual({ vouchers: 6, signatures: 2 })
    const laneOf = (i: number) => (vouchers[i] as { laneId: Hex }).laneId
    for (const [i, s] of signed.entries())
      for (const [j, t] of signed.entries()) expect(s.signature === t.signature).toBe(laneOf(i) === laneOf(j))
    // a proof holds only leaves of its own lane: the tree of lane 0 is exactly lane 0's vouchers
    const lane0 = vouchers.filter((v) => v.laneId === laneOf(0))
    const i0 = vouchers.indexOf(lane0[0] as (typeof vouchers)[number])
    expect(
      foldProof(
        leafOf(laneOf(0), (lane0[0] as { cumulative: bigint }).cumulative),
        (signed[i0] as { proof: Hex[] }).proof,
      ),
    ).toBe(rootOf(lane0.map((v) => leafOf(v.laneId, v.cumulative))))
    const trees = voucherTrees(chainId, ledger)
    trees.clear()
    for (const [i, v] of vouchers.entries()) {
      const s = signed[i] as { signature: Hex; proof: Hex[] }
      expect((await verifyVoucher({ chainId, ledger, ...v, ...s, payer: account.address })).valid).toBe(true)
    }
    expect(trees.size).toBe(2)
    const alone = await signer.sign({ laneId: keccak256(toHex('lane 0')), cumulative: 999n })
    expect(alone.proof).toEqual([])
    expect(signer.stats).toEqual({ vouchers: 7, signatures: 3 })
    const { signTypedData: _, ...cannotSign } = account
    const broken = createVoucherSigner({ account: cannotSign as never, chainId, ledger })
    const results = await Promise.allSettled(claims(3).map((v) => broken.sign(v)))
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected'])
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/cannot sign typed data/)
  })
})

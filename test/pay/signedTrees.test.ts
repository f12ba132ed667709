import { type Address, type Hex, hexToBytes, keccak256, recoverTypedDataAddress, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, test } from 'vitest'
import { decodeProof, merkleRootOf } from '../../src/pay/merkle.js'
import { createSignedTrees } from '../../src/pay/signedTrees.js'
import { signVouchersNative } from '../../src/pay/signVouchers.js'
import { verifyVoucherNative } from '../../src/pay/verifyVoucher.js'
import {
  MalformedSignatureError,
  recoverDigestSignerNative,
  voucherBatchTypes,
  voucherDomain,
  voucherHasher,
} from '../../src/pay/voucher.js'
import { seededRandom as rng } from '../support/rng.js'

const privateKey = keccak256(toHex('signed trees payer'))
const account = privateKeyToAccount(privateKey)
const ledger = '0x5FbDB2315678afecb367f032d93F642f64180aa3'
const chainId = 31337
const hasher = voucherHasher(chainId, ledger)

type Item = { laneId: Hex; cumulative: bigint; proof: Hex[]; signature: Hex }

/** A batch of `n` vouchers on two lanes, signed once, each with its proof. */
function batch(n: number, from: bigint): Item[] {
  const vouchers = Array.from({ length: n }, (_, i) => ({
    laneId: keccak256(toHex(`lane ${i % 2}`)),
    cumulative: from + BigInt(i) * 7n,
  }))
  const signed = signVouchersNative({ account, privateKey, chainId, ledger, vouchers })
  if (!signed) throw new Error('the native binding is not loaded')
  return vouchers.map((v, i) => ({ ...v, proof: signed.proofs[i] as Hex[], signature: signed.signature }))
}

/** What a full fold and a recovery say, with no cache: the answer the cache must never change. */
function reference(leaf: Uint8Array, proof: readonly Hex[], signature: Hex) {
  try {
    const root = merkleRootOf(leaf, decodeProof(proof, 'voucher'))
    return {
      signer: recoverDigestSignerNative(hasher.batchDigest(root), signature),
      rootHex: toHex(root),
    }
  } catch (err) {
    if (err instanceof MalformedSignatureError) return 'malformed'
    throw err
  }
}

function counted() {
  const roots: Hex[] = []
  const recover = (root: Uint8Array, signature: Hex) => {
    roots.push(toHex(root))
    return recoverDigestSignerNative(hasher.batchDigest(root), signature)
  }
  return { roots, recover }
}

const leafOf = (v: Item) => hasher.structHash(v.laneId, v.cumulative)

describe('signed trees', () => {
  test('every leaf of a batch is proven in any order with one recovery per signature, as a full fold and viem say', async () => {
    const random = rng(1)
    const trees = createSignedTrees()
    const { roots, recover } = counted()
    let from = 1n
    // (a voucher alone is signed as itself, not as a batch of one)
    for (const n of [2, 3, 5, 8, 13, 16, 17, 33, 64]) {
      const items = batch(n, from)
      from += 10_000n
      const order = items.map((v) => ({ v, k: random() })).sort((a, b) => a.k - b.k)
      const before = roots.length
      for (const { v } of order) {
        const got = trees.prove(leafOf(v), v.proof, v.signature, recover)
        const want = reference(leafOf(v), v.proof, v.signature)
        expect(got && { signer: got.signer, rootHex: got.rootHex }).toEqual(want)
        expect(got?.signer).toBe(account.address.toLowerCase())
      }
      expect(roots.length - before).toBe(1)
      // viem agrees on who signed the root
      const root = roots[roots.length - 1] as Hex
      expect(
        await recoverTypedDataAddress({
          domain: voucherDomain(chainId, ledger),
          types: voucherBatchTypes,
          primaryType: 'Vouchers',
          message: { root },
          signature: (items[0] as Item).signature,
        }),
      ).toBe(account.address)
    }
    expect(trees.size).toBe(9)
  })

  test.each([
    ['every node cached', undefined],
    ['a node budget too small to record them all', 24],
  ])(
    'a proof that does not lead to the signed root is never proven by the cached nodes (%s)',
    (_, budget) => {
      const random = rng(2)
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)] as T
      let checked = 0
      let refused = 0
      for (let round = 0; round < 40; round++) {
        const items = batch(2 + Math.floor(random() * 30), BigInt(round) * 1_000_000n + 1n)
        const trees = createSignedTrees({ nodes: budget })
        const { recover } = counted()
        // every node of the tree is in the cache (what an attacker has to work with), or as many as fit
        for (const v of items) trees.prove(leafOf(v), v.proof, v.signature, recover)
        if (budget !== undefined) expect(trees.nodes).toBeLessThanOrEqual(budget)
        const nodes = [...new Set(items.flatMap((v) => v.proof))]
        for (let k = 0; k < 60; k++) {
          const v = pick(items)
          const w = pick(items)
          let leaf = leafOf(v)
          let proof = [...v.proof]
          switch (Math.floor(random() * 8)) {
            case 0: // another node in place of one of the proof
              if (proof.length) proof[Math.floor(random() * proof.length)] = pick(nodes)
              break
            case 1: // a node dropped
              proof.splice(Math.floor(random() * proof.length), 1)
              break
            case 2: // a node added
              proof.splice(Math.floor(random() * (proof.length + 1)), 0, pick(nodes))
              break
            case 3: // another voucher's proof
              proof = [...w.proof]
              break
            case 4: // an amount that was never signed, with the proof of one that was
              leaf = hasher.structHash(v.laneId, v.cumulative + 1n)
              break
            case 5: // the proof reversed
              proof.reverse()
              break
            case 6: // a node of the tree as the leaf itself
              leaf = hexToBytes(pick(nodes))
              proof = proof.slice(1)
              break
            case 7: // the same node in capitals: still the same bytes
              if (proof.length) {
                const i = Math.floor(random() * proof.length)
                proof[i] = `0x${(proof[i] as Hex).slice(2).toUpperCase()}`
              }
              break
          }
          const got = trees.prove(leaf, proof, v.signature, recover)
          const want = reference(leaf, proof, v.signature)
          expect(got && { signer: got.signer, rootHex: got.rootHex }).toEqual(want)
          checked++
          if (typeof want !== 'string' && want.signer !== account.address.toLowerCase()) refused++
        }
      }
      expect(checked).toBe(2_400)
      // most mutations lead elsewhere and recover to a stranger
      expect(refused).toBeGreaterThan(1_000)
    },
  )

  test('through verifyVoucherNative: a batch verifies, and a tampered voucher is refused even after its batch was seen', () => {
    const items = batch(13, 5_000_000n)
    const payer = account.address
    for (const v of items) expect(verifyVoucherNative({ chainId, ledger, ...v, payer })?.valid).toBe(true)
    const v = items[4] as Item
    expect(
      verifyVoucherNative({ chainId, ledger, ...v, cumulative: v.cumulative + 7n, payer }),
    ).toMatchObject({
      valid: false,
      reason: 'wrong-signer',
    })
    expect(
      verifyVoucherNative({ chainId, ledger, ...v, proof: (items[5] as Item).proof, payer }),
    ).toMatchObject({ valid: false, reason: 'wrong-signer' })
    expect(verifyVoucherNative({ ledger, ...v, chainId: 1, payer })).toMatchObject({
      valid: false,
      reason: 'wrong-signer',
    })
    const stranger = privateKeyToAccount(keccak256(toHex('stranger'))).address
    expect(verifyVoucherNative({ chainId, ledger, ...v, payer: stranger })).toMatchObject({
      valid: false,
      reason: 'wrong-signer',
    })
  })

  test('malformed proofs are refused with MalformedSignatureError, before and after the batch is known', () => {
    const items = batch(8, 9_000_000n)
    const v = items[3] as Item
    const trees = createSignedTrees({ what: 'voucher' })
    const { recover } = counted()
    const bad: unknown[] = [
      'nope',
      Array(33).fill(v.proof[0]),
      ['0x12'],
      [`0x${'zz'.repeat(32)}`],
      [`0x${'ab'.repeat(31)}a`],
      [`0x${'ab'.repeat(31)}ag`],
      [`${'ab'.repeat(33)}`],
      [`0X${'ab'.repeat(32)}`],
      [7],
    ]
    for (const known of [false, true]) {
      if (known) for (const w of items) trees.prove(leafOf(w), w.proof, w.signature, recover)
      for (const proof of bad)
        expect(() => trees.prove(leafOf(v), proof as Hex[], v.signature, recover)).toThrow(
          MalformedSignatureError,
        )
    }
    expect(() => trees.prove(leafOf(v), ['0x12'], v.signature, recover)).toThrow(
      /a voucher proof holds 32-byte hex hashes/,
    )
  })

  test('it holds at most `trees` signatures and `nodes` nodes in all, and recovers again what it let go', () => {
    const trees = createSignedTrees({ nodes: 40 })
    const { roots, recover } = counted()
    // a batch of 16 proves 31 nodes: a second batch does not fit beside it, so the cache starts over
    const batches = [batch(16, 1n), batch(16, 100_000n), batch(16, 200_000n)]
    for (const items of batches)
      for (const v of items) {
        trees.prove(leafOf(v), v.proof, v.signature, recover)
        expect(trees.nodes).toBeLessThanOrEqual(40)
      }
    expect(trees.size).toBe(1)
    expect(trees.nodes).toBe(31)
    expect(roots.length).toBe(3)
    // the first batch was let go: recovered again, once, then proven from the cache
    for (const v of batches[0] as Item[]) trees.prove(leafOf(v), v.proof, v.signature, recover)
    expect(roots.length).toBe(4)
    expect(trees.nodes).toBeLessThanOrEqual(40)
    const few = createSignedTrees({ trees: 2 })
    for (const items of [batch(2, 1n), batch(2, 10n), batch(2, 20n)])
      for (const v of items) few.prove(leafOf(v), v.proof, v.signature, recover)
    expect(few.size).toBe(1)
    few.clear()
    expect([few.size, few.nodes]).toEqual([0, 0])
  })

  test("a tree is kept only for a signer its caller accepts, and never holds the caller's arrays", () => {
    const items = batch(8, 70_000n)
    const { roots, recover } = counted()
    const trees = createSignedTrees()
    const stranger = privateKeyToAccount(keccak256(toHex('stranger'))).address.toLowerCase()
    for (const v of items)
      expect(trees.prove(leafOf(v), v.proof, v.signature, recover, (s) => s === stranger)?.signer).toBe(
        account.address.toLowerCase(),
      )
    // refused signers leave nothing behind: every leaf was recovered
    expect([trees.size, trees.nodes, roots.length]).toEqual([0, 0, 8])
    const v = items[2] as Item
    const proof = [...v.proof]
    expect(trees.prove(leafOf(v), proof, v.signature, recover)?.rootHex).toBe(roots[0])
    // the caller changes its array afterwards: the cache still holds the proof that was checked
    proof[1] = proof[0] as Hex
    const tampered = trees.prove(leafOf(v), proof, v.signature, recover)
    expect(tampered?.rootHex).not.toBe(roots[0])
    expect(tampered && { signer: tampered.signer, rootHex: tampered.rootHex }).toEqual(
      reference(leafOf(v), proof, v.signature),
    )
  })

  test('a signature first seen with a root of its own making still proves its real batch', () => {
    const items = batch(8, 80_000n)
    const { roots, recover } = counted()
    const trees = createSignedTrees()
    const v = items[0] as Item
    // someone sends the batch's signature with a made-up leaf and proof first: that root recovers to a stranger
    const fake = trees.prove(
      hexToBytes(keccak256(toHex('made up'))),
      [v.proof[0] as Hex],
      v.signature,
      recover,
    )
    expect(fake?.signer).not.toBe(account.address.toLowerCase())
    for (const w of items) {
      const got = trees.prove(leafOf(w), w.proof, w.signature, recover)
      expect(got && { signer: got.signer, rootHex: got.rootHex }).toEqual(
        reference(leafOf(w), w.proof, w.signature),
      )
    }
    // with no keep rule the made-up root holds the signature, so each real leaf is recovered (correct, slower)
    expect(roots.length).toBe(1 + items.length)
    // a provider keeps only its payer's trees: the made-up root is not kept, and the real batch recovers once
    const payerOnly = createSignedTrees()
    const keep = (s: Address) => s === account.address.toLowerCase()
    const before = roots.length
    payerOnly.prove(hexToBytes(keccak256(toHex('made up'))), [v.proof[0] as Hex], v.signature, recover, keep)
    for (const w of items)
      expect(payerOnly.prove(leafOf(w), w.proof, w.signature, recover, keep)?.signer).toBe(
        account.address.toLowerCase(),
      )
    expect(roots.length - before).toBe(2)
  })
})

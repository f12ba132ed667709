import { concat, type Hex, hashStruct, hashTypedData, keccak256, recoverTypedDataAddress, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, test } from 'vitest'
import {
  type CallReceipt,
  callReceiptBatchTypes,
  callReceiptDomain,
  callReceiptHasher,
  callReceiptTypes,
} from '../../src/pay/callReceipt.js'
import { createCallReceiptSigner } from '../../src/pay/createCallReceiptSigner.js'
import { signCallReceipts } from '../../src/pay/signCallReceipts.js'
import { verifyCallReceipt } from '../../src/pay/verifyCallReceipt.js'

const privateKey = keccak256(toHex('receipt signer'))
const account = privateKeyToAccount(privateKey)
const ledger = '0x8a991c00417f58198dee248778f961a61f70bfd4'
const receipt: CallReceipt = {
  laneId: keccak256(toHex('lane')),
  assetId: 7n,
  model: 'acme/shout',
  version: '1.0.0',
  inputHash: keccak256(toHex('in')),
  outputHash: keccak256(toHex('out')),
  amount: 1_000n,
  cumulative: 123_000n,
  voucher: (1n << 200n) + 5n,
}

// the sorted-pair fold OpenZeppelin's MerkleProof.processProof does, written out with viem's keccak
const foldProof = (leaf: Hex, proof: readonly Hex[]) =>
  proof.reduce<Hex>(
    (node, p) => keccak256(node.toLowerCase() < p.toLowerCase() ? concat([node, p]) : concat([p, node])),
    leaf,
  )
const leafOf = (r: CallReceipt) =>
  hashStruct({ data: r, primaryType: 'CallReceipt', types: callReceiptTypes })
const rootSigner = (root: Hex, signature: Hex) =>
  recoverTypedDataAddress({
    domain: callReceiptDomain(31337, ledger),
    types: callReceiptBatchTypes,
    primaryType: 'CallReceipts',
    message: { root },
    signature,
  })
const batchOf = (n: number): CallReceipt[] =>
  Array.from({ length: n }, (_, i) => ({
    ...receipt,
    inputHash: keccak256(toHex(`in ${i}`)),
    cumulative: receipt.cumulative + BigInt(i) * receipt.amount,
    voucher: receipt.voucher + BigInt(i),
  }))

describe('call receipts', () => {
  test('the cached struct hash and batch digest are EIP-712 as viem computes them', () => {
    const h = callReceiptHasher(31337, ledger)
    expect(toHex(h.structHash(receipt))).toBe(leafOf(receipt))
    const root = keccak256(toHex('some root'))
    const viem = hashTypedData({
      domain: callReceiptDomain(31337, ledger),
      types: callReceiptBatchTypes,
      primaryType: 'CallReceipts',
      message: { root },
    })
    expect(toHex(h.batchDigest(Buffer.from(root.slice(2), 'hex')))).toBe(viem)
    expect(toHex(callReceiptHasher(1, ledger).batchDigest(Buffer.from(root.slice(2), 'hex')))).not.toBe(viem)
    // the hasher keeps the head of the last lane, model and version: alternating receipts still agree
    const others: CallReceipt[] = [
      { ...receipt, laneId: keccak256(toHex('another lane')) },
      { ...receipt, assetId: 8n },
      { ...receipt, model: 'acme/whisper' },
      { ...receipt, version: '1.0.1' },
      { ...receipt, cumulative: 124_000n, voucher: 125_000n },
      receipt,
    ]
    for (const r of [...others, ...others]) expect(toHex(h.structHash(r))).toBe(leafOf(r))
  })

  test.each([1, 2, 3, 7])(
    'a batch of %i: native and viem signatures agree, and every receipt proves to the provider',
    async (n) => {
      const receipts = batchOf(n)
      const fast = await signCallReceipts({ account, privateKey, chainId: 31337, ledger, receipts })
      const slow = await signCallReceipts({ account, chainId: 31337, ledger, receipts })
      expect(fast).toEqual(slow)
      expect(await rootSigner(fast.root, fast.signature)).toBe(account.address)
      if (n === 1) expect(fast.root).toBe(leafOf(receipts[0] as CallReceipt))
      for (const [i, r] of receipts.entries()) {
        const proof = fast.proofs[i] as Hex[]
        expect(proof.length).toBeLessThanOrEqual(Math.ceil(Math.log2(n)))
        expect(foldProof(leafOf(r), proof)).toBe(fast.root)
        expect(
          await verifyCallReceipt({ chainId: 31337, ledger, receipt: r, signature: fast.signature, proof }),
        ).toEqual({ valid: true, signer: account.address.toLowerCase(), root: fast.root })
      }
    },
  )

  test('a tampered receipt, a proof from another receipt or a malformed signature or proof does not verify', async () => {
    const receipts = batchOf(4)
    const { signature, proofs } = await signCallReceipts({
      account,
      privateKey,
      chainId: 31337,
      ledger,
      receipts,
    })
    const signerOf = async (r: CallReceipt, proof: Hex[], sig: Hex = signature) => {
      const v = await verifyCallReceipt({ chainId: 31337, ledger, receipt: r, signature: sig, proof })
      return v.valid ? v.signer : v.reason
    }
    const me = account.address.toLowerCase()
    expect(await signerOf(receipts[0] as CallReceipt, proofs[0] as Hex[])).toBe(me)
    expect(await signerOf({ ...(receipts[0] as CallReceipt), amount: 999n }, proofs[0] as Hex[])).not.toBe(me)
    expect(await signerOf(receipts[0] as CallReceipt, proofs[1] as Hex[])).not.toBe(me)
    expect(await signerOf(receipts[0] as CallReceipt, [])).not.toBe(me)
    expect(await signerOf(receipts[0] as CallReceipt, proofs[0] as Hex[], '0x1234')).toBe('malformed')
    expect(await signerOf(receipts[0] as CallReceipt, ['0x12'])).toBe('malformed')
    expect(await signerOf(receipts[0] as CallReceipt, Array(33).fill(keccak256('0x')))).toBe('malformed')
    await expect(
      signCallReceipts({ account, privateKey, chainId: 31337, ledger, receipts: [] }),
    ).rejects.toThrow(/at least one receipt/)
  })
})

describe('createCallReceiptSigner', () => {
  test('receipts asked for in one turn share a signature; later ones get their own', async () => {
    const signer = createCallReceiptSigner({ account, privateKey, chainId: 31337, ledger })
    const receipts = batchOf(5)
    const together = await Promise.all(receipts.map((r) => signer.sign(r)))
    expect(signer.stats).toEqual({ receipts: 5, signatures: 1 })
    expect(new Set(together.map((s) => s.signature)).size).toBe(1)
    for (const [i, r] of receipts.entries()) {
      const s = together[i] as { signature: Hex; proof: Hex[] }
      expect(await rootSigner(foldProof(leafOf(r), s.proof), s.signature)).toBe(account.address)
    }
    const alone = await signer.sign(receipt)
    expect(alone.proof).toEqual([])
    expect(await rootSigner(leafOf(receipt), alone.signature)).toBe(account.address)
    expect(signer.stats).toEqual({ receipts: 6, signatures: 2 })
  })

  test('maxBatch caps a batch, and a signing failure rejects every receipt of its batch', async () => {
    const capped = createCallReceiptSigner({ account, privateKey, chainId: 31337, ledger, maxBatch: 2 })
    const signed = await Promise.all(batchOf(5).map((r) => capped.sign(r)))
    expect(capped.stats.signatures).toBe(3)
    expect(signed.map((s) => s.proof.length)).toEqual([1, 1, 1, 1, 0])
    // 1 signs every receipt alone, without waiting for the end of a turn
    const alone = createCallReceiptSigner({ account, privateKey, chainId: 31337, ledger, maxBatch: 1 })
    const each = await Promise.all(batchOf(3).map((r) => alone.sign(r)))
    expect(alone.stats).toEqual({ receipts: 3, signatures: 3 })
    expect(each.map((s) => s.proof.length)).toEqual([0, 0, 0])
    const { signTypedData: _, ...cannotSign } = account
    const broken = createCallReceiptSigner({ account: cannotSign as never, chainId: 31337, ledger })
    const results = await Promise.allSettled(batchOf(3).map((r) => broken.sign(r)))
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected'])
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/cannot sign typed data/)
    expect(() => createCallReceiptSigner({ account, chainId: 31337, ledger, maxBatch: 0 })).toThrow(
      RangeError,
    )
  })
})

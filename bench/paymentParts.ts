/**
 * The parts of a paid call's cost, each timed alone in one process: what `npm run bench:calls` measures whole.
 * Per voucher: the provider's check of a voucher signed in a batch of 13 (each voucher seen once, the batch's
 * signature recovered once), against folding its proof in full; per receipt: the provider's signing of a batch of
 * 20; per header: the provider reading a payment header by its lane's learnt layout and in full, and JSON.parse of
 * a receipt header. Medians over repetitions. `npm run bench:parts` compiles it with tsc first; `npx tsx bench/paymentParts.ts`
 * runs the sources. Writes bench/results/payment-parts.json.
 */
import { writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import type { Address, Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { base64Utf8, type LanePaymentPayload, type LanePaymentResponse } from '../src/models/laneScheme.js'
import { learnPaymentLayout } from '../src/models/paymentLayout.js'
import { parsePayment } from '../src/models/tributaryRouter.js'
import { type CallReceipt, callReceiptHasher } from '../src/pay/callReceipt.js'
import { keccakReady } from '../src/pay/keccak.js'
import { decodeProof, merkleRootOf } from '../src/pay/merkle.js'
import { signCallReceiptsNative } from '../src/pay/signCallReceipts.js'
import { signVouchersNative } from '../src/pay/signVouchers.js'
import { verifyVoucherNative } from '../src/pay/verifyVoucher.js'
import { recoverDigestSignerNative, voucherHasher } from '../src/pay/voucher.js'
import { codeMeasured, resultsFile } from './resultsFile.js'

await keccakReady
const REPS = 7
const privateKey = `0x${'42'.repeat(32)}` as Hex
const account = privateKeyToAccount(privateKey)
const ledger = '0x00000000000000000000000000000000000000b2' as Address
const chainId = 31337
const laneId = `0x${'ab'.repeat(32)}` as Hex
const h = (byte: string, n = 32) => `0x${byte.repeat(n)}` as Hex

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number
const r2 = (x: number) => Math.round(x * 100) / 100

/** Median µs per item of `run` over REPS fresh inputs (one more first, to warm up). */
function timed<T>(make: () => T[], run: (items: T[]) => void): number {
  const out: number[] = []
  for (let r = 0; r <= REPS; r++) {
    const items = make()
    const t0 = performance.now()
    run(items)
    if (r > 0) out.push(((performance.now() - t0) * 1000) / items.length)
  }
  return r2(median(out))
}

// ------------------------------------------------------------------ vouchers: batches of 13, each seen once
let next = 1_000n
function voucherBatches(batches: number, size: number) {
  const all = []
  for (let b = 0; b < batches; b++) {
    const vouchers = Array.from({ length: size }, (_, i) => ({ laneId, cumulative: next + 10n * BigInt(i) }))
    next += 10n * BigInt(size)
    const signed = signVouchersNative({ account, privateKey, chainId, ledger, vouchers })
    if (!signed) throw new Error('the native secp256k1 binding is not loaded')
    const items = vouchers.map((v, i) => ({
      chainId,
      ledger,
      ...v,
      signature: signed.signature,
      proof: signed.proofs[i] as Hex[],
      payer: account.address,
    }))
    // calls reach the provider in any order
    items.sort(() => Math.random() - 0.5)
    all.push(...items)
  }
  return all
}
const voucherCheckUs = timed(
  () => voucherBatches(300, 13),
  (items) => {
    for (const v of items) if (!verifyVoucherNative(v)?.valid) throw new Error('a voucher did not verify')
  },
)
const hasher = voucherHasher(chainId, ledger)
// the check before the proven-node cache: every voucher's proof folded to the root in full, and the batch's
// signature recovered once per root (remembered by root and signature)
const recovered = new Map<string, Address>()
const voucherCheckFullFoldUs = timed(
  () => voucherBatches(300, 13),
  (items) => {
    for (const v of items) {
      const root = merkleRootOf(hasher.structHash(v.laneId, v.cumulative), decodeProof(v.proof, 'voucher'))
      const key = `${Buffer.from(root.buffer, root.byteOffset, 32).toString('hex')}${v.signature}`
      let signer = recovered.get(key)
      if (signer === undefined) {
        signer = recoverDigestSignerNative(hasher.batchDigest(root), v.signature) as Address
        recovered.set(key, signer)
      }
      if (signer.toLowerCase() !== v.payer.toLowerCase()) throw new Error('a voucher did not verify')
    }
  },
)
const digests = Array.from({ length: 64 }, (_, i) => new Uint8Array(32).fill(i + 1))
const signatures = voucherBatches(64, 2).map((v) => v.signature)
const recoveryUs = timed(
  () => Array.from({ length: 2_000 }, (_, i) => i),
  (items) => {
    for (const i of items) recoverDigestSignerNative(digests[i & 63] as Uint8Array, signatures[i & 63] as Hex)
  },
)

// ------------------------------------------------------------------ receipts: batches of 20
let served = 0n
const receipt = (): CallReceipt => {
  served += 1n
  return {
    laneId,
    assetId: 3n,
    model: 'bench/echo',
    version: '1.0.0',
    inputHash: `0x${served.toString(16).padStart(64, '0')}`,
    outputHash: h('b2'),
    amount: 10n,
    cumulative: served * 10n,
    voucher: served * 10n + 100n,
  }
}
const receiptBatches = () => Array.from({ length: 200 }, () => Array.from({ length: 20 }, receipt))
const per20 = (us: number) => r2(us / 20)
const receiptSignUs = per20(
  timed(receiptBatches, (batches) => {
    for (const receipts of batches) signCallReceiptsNative({ account, privateKey, chainId, ledger, receipts })
  }),
)
const receiptHasher = callReceiptHasher(chainId, ledger)
const receiptStructHashUs = per20(
  timed(receiptBatches, (batches) => {
    for (const receipts of batches) for (const r of receipts) receiptHasher.structHash(r)
  }),
)

// ------------------------------------------------------------------ headers
const payment = (cumulative: string, lane: Hex): LanePaymentPayload => ({
  x402Version: 2,
  scheme: 'tributary-lane',
  network: `eip155:${chainId}`,
  payload: {
    ledger,
    laneId: lane,
    cumulative,
    signature: h('cd', 65),
    proof: [h('01'), h('02'), h('03'), h('04')],
    lane: {
      payer: account.address,
      token: '0x00000000000000000000000000000000000000cc',
      modelId: '3',
      termsVersion: 1,
      seq: '0',
      lineageHash: h('d0'),
    },
  },
})
const first = JSON.stringify(payment('10', laneId))
learnPaymentLayout(first, JSON.parse(first))
// the headers as they arrive: base64, read by the provider's parsePayment
const paymentHeaders = (lane: Hex) => () =>
  Array.from({ length: 20_000 }, (_, i) => base64Utf8(JSON.stringify(payment(String(10 * i + 10), lane))))
const paymentReadUs = timed(paymentHeaders(laneId), (headers) => {
  for (const t of headers) if (typeof parsePayment(t) === 'string') throw new Error('a payment was refused')
})
// another lane, never learnt: JSON.parse and the check of every field
const paymentFullReadUs = timed(paymentHeaders(h('cd')), (headers) => {
  for (const t of headers) if (typeof parsePayment(t) === 'string') throw new Error('a payment was refused')
})
const response = (n: number): LanePaymentResponse => ({
  x402Version: 2,
  scheme: 'tributary-lane',
  success: true,
  network: `eip155:${chainId}`,
  payer: account.address,
  provider: '0x00000000000000000000000000000000000000Cc',
  receipt: {
    laneId,
    assetId: '3',
    model: 'bench/echo',
    version: '1.0.0',
    inputHash: h('a1'),
    outputHash: h('b2'),
    amount: '10',
    cumulative: String(10 * n),
    voucher: String(10 * n + 100),
  },
  signature: h('ab', 65),
  proof: [h('01'), h('02'), h('03'), h('04'), h('05')],
})
const responseJsonParseUs = timed(
  () => Array.from({ length: 20_000 }, (_, i) => JSON.stringify(response(i))),
  (texts) => {
    for (const t of texts) JSON.parse(t)
  },
)

const result = {
  generatedAt: new Date().toISOString(),
  machine: {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    loadAvg1mAtStart: r2(loadavg()[0] ?? 0),
  },
  code: codeMeasured(import.meta.url),
  method:
    'µs per item, median of 7 repetitions over fresh inputs, one process. Vouchers: 300 batches of 13 signed once each, shuffled within a batch, each checked once (the batch signature recovered once: its share is in voucherCheckUs). Receipts: 200 batches of 20.',
  voucherCheckUs,
  voucherCheckFullFoldUs,
  recoveryUs,
  receiptSignUs,
  receiptStructHashUs,
  paymentReadUs,
  paymentFullReadUs,
  responseJsonParseUs,
}
writeFileSync(resultsFile('payment-parts.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`)
console.table({
  'voucher check (batch of 13, recovery share included)': { µs: voucherCheckUs },
  'voucher check folding every proof in full (as before the cache)': { µs: voucherCheckFullFoldUs },
  'one signature recovery': { µs: recoveryUs },
  'receipt signing (batch of 20, signature share included)': { µs: receiptSignUs },
  "receipt's EIP-712 struct hash": { µs: receiptStructHashUs },
  "payment header read (base64, by the lane's learnt layout)": { µs: paymentReadUs },
  'payment header read in full (base64, JSON.parse, every field checked)': { µs: paymentFullReadUs },
  'receipt header JSON.parse': { µs: responseJsonParseUs },
})
console.log('wrote bench/results/payment-parts.json')

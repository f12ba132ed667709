import { createHash } from 'node:crypto'
import { concat, encodePacked, type Hex, keccak256, stringToBytes, sha256 as viemSha256 } from 'viem'
import { describe, expect, it } from 'vitest'
import { assign, createActor, toPromise, setup as xsetup } from 'xstate'
import { keccak256Hex } from '../../src/pay/keccak.js'
import { createPaidCallActor } from '../../src/workflow/createPaidCallActor.js'
import { DuplicateIdempotencyKeyError } from '../../src/workflow/errors.js'
import { createAttributionLedger, idempotencyKey, type LedgerRecord } from '../../src/workflow/ledger.js'
import { getReceiptProof, receiptLeaf, receiptRoot, verifyReceiptProof } from '../../src/workflow/receipt.js'
import type { LedgerEntry } from '../../src/workflow/types.js'
import { listings, setup } from './support/fixtures.js'

const runId = `0x${'12'.repeat(32)}` as Hex
const h = (n: number) => `0x${n.toString(16).padStart(64, '0')}` as Hex

const record = (i: number): LedgerRecord => ({
  idempotencyKey: idempotencyKey(runId, `s${i}`, 0),
  stepId: `s${i}`,
  item: 0,
  assetId: BigInt(i + 1),
  modelId: 'acme/x',
  modelVersion: `1.${i}.0`,
  token: '0x00000000000000000000000000000000000000aa',
  laneId: h(100 + i),
  amount: BigInt(10 + i),
  cumulative: BigInt(10 + i),
  inputHash: h(200 + i),
  outputHash: h(300 + i),
  providerSignature: `0x${'ab'.repeat(65)}`,
  latencyMs: 3 + i,
  lane: { i },
})

// the receipt of record(0..2), rebuilt from the entries' fields on chain by contracts/test/ReceiptProof.t.sol
const SOLIDITY_LEAVES = [
  '0x2ba9e92fe22b77c8f428ea6dba14d04b996bd6c6c2750950cc043ff7002f89bb',
  '0xecae82aba999ff5d6e745d79dea921ddb3ecacd5c1915835624286978b05e612',
  '0x80e71e3b31943e7fe4f50db7e90d2416f70054ff49d7f4cefb5f9af301fb5e6e',
]
const SOLIDITY_ROOT = '0x3787203dae3114bc972b3568d19ec2b4c8af81129e558e12a0391b58956accd8'
const SOLIDITY_PROOFS = [
  [SOLIDITY_LEAVES[1], SOLIDITY_LEAVES[2]],
  [SOLIDITY_LEAVES[0], SOLIDITY_LEAVES[2]],
  ['0x3c980b30e7bf46811c7f53920d6041d2bb5116d0f27e60d7c2f86169d778403c'], // sha256 pair of leaves 0 and 1
]

const sha256 = (data: string | Uint8Array) => `0x${createHash('sha256').update(data).digest('hex')}` as Hex

describe('idempotency keys', () => {
  it('are sha256("runId:item:stepId"): deterministic and distinct per run, step and item', () => {
    expect(idempotencyKey(runId, 'ocr', 3)).toBe(sha256(`${runId}:3:ocr`))
    expect(idempotencyKey(runId, 'pages[3].ocr', 3)).toBe(sha256(`${runId}:3:pages[3].ocr`))
    expect(idempotencyKey(runId, 'ocr', 3)).toBe(idempotencyKey(runId, 'ocr', 3))
    const keys = new Set([
      idempotencyKey(runId, 'ocr', 0),
      idempotencyKey(runId, 'ocr', 1),
      idempotencyKey(runId, 'ocr2', 0),
      idempotencyKey(h(1), 'ocr', 0),
      idempotencyKey(runId, '1:ocr', 0),
      idempotencyKey(runId, 'ocr', 10),
    ])
    expect(keys.size).toBe(6)
    for (const k of keys) expect(k).toMatch(/^0x[0-9a-f]{64}$/)
  })

  it('refuse a run id that is not hex, so that no run id can carry the separator', () => {
    // "0xab:1" with item 2 and step "x" would read as run "0xab", item 1, step "2:x"
    expect(() => idempotencyKey('0xab:1' as Hex, 'x', 2)).toThrow(RangeError)
    expect(idempotencyKey('0xab', '2:x', 1)).toBe(sha256('0xab:1:2:x'))
  })

  it('the fast keccak matches viem on every length around the block size', () => {
    for (const n of [0, 1, 55, 56, 135, 136, 137, 271, 272, 273, 1000]) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 7 + n) & 255)
      expect(keccak256Hex(bytes)).toBe(keccak256(bytes))
    }
  })
})

describe('attribution ledger', () => {
  it('records entries in order with indexes and totals per token, and refuses the same key twice', () => {
    const ledger = createAttributionLedger()
    const e0 = ledger.record(record(0), { out: 0 })
    const e1 = ledger.record(record(1), { out: 1 })
    expect([e0.index, e1.index]).toEqual([0, 1])
    expect(ledger.total()).toBe(21n)
    expect(ledger.totals().get('0x00000000000000000000000000000000000000aa')).toBe(21n)
    expect(() => ledger.record(record(1), { out: 'again' })).toThrow(DuplicateIdempotencyKeyError)
    expect(ledger.entries).toHaveLength(2)
    expect(ledger.output(e1.idempotencyKey)).toEqual({ value: { out: 1 } })
  })
})

describe('receipt Merkle tree', () => {
  // the encoding as documented, written independently of receipt.ts with viem
  const pad32 = (x: Hex) => `0x${x.slice(2).toLowerCase().padStart(64, '0')}`
  const documentedLeaf = (x: LedgerEntry) =>
    viemSha256(
      stringToBytes(
        [
          pad32(x.idempotencyKey),
          pad32(x.laneId),
          pad32(x.inputHash),
          pad32(x.outputHash),
          x.assetId.toString(),
          x.amount.toString(),
          x.cumulative.toString(),
          String(Math.round(x.latencyMs)),
          x.providerSignature.toLowerCase(),
          x.modelVersion,
        ].join(':'),
      ),
    )
  const pairHash = (a: Hex, b: Hex) => viemSha256(concat(BigInt(a) <= BigInt(b) ? [a, b] : [b, a]))
  const documentedRoot = (entries: readonly LedgerEntry[]) => {
    let level = entries.map(documentedLeaf)
    while (level.length > 1) {
      const next: Hex[] = []
      for (let i = 0; i < level.length; i += 2)
        next.push(i + 1 < level.length ? pairHash(level[i] as Hex, level[i + 1] as Hex) : (level[i] as Hex))
      level = next
    }
    return level[0]
  }

  it('leaf is sha256 of the documented text line; fields out of range or not hex are refused', () => {
    const e: LedgerEntry = { index: 0, ...record(0) }
    expect([e.assetId, e.amount, e.cumulative, e.latencyMs, e.modelVersion]).toEqual([
      1n,
      10n,
      10n,
      3,
      '1.0.0',
    ])
    expect(receiptLeaf(e)).toBe(documentedLeaf(e))
    const big = {
      ...e,
      assetId: 2n ** 200n + 7n,
      amount: 2n ** 100n,
      cumulative: 2n ** 128n - 1n,
      latencyMs: 12.6,
      modelVersion: '2.0.0-βeta:rc',
    }
    expect(receiptLeaf(big)).toBe(documentedLeaf(big))
    // a hash field shorter than 32 bytes is left-padded; hex in either case is the same leaf
    expect(receiptLeaf({ ...e, laneId: '0x0102' })).toBe(receiptLeaf({ ...e, laneId: h(0x0102) }))
    const upper = (x: Hex) => `0x${x.slice(2).toUpperCase()}` as Hex
    expect(
      receiptLeaf({ ...e, inputHash: upper(e.inputHash), providerSignature: upper(e.providerSignature) }),
    ).toBe(receiptLeaf(e))
    // a change in any field is another leaf
    for (const change of [
      { amount: 11n },
      { cumulative: 11n },
      { assetId: 2n },
      { latencyMs: 4 },
      { modelVersion: '1.0.1' },
      { outputHash: h(1) },
      { providerSignature: `0x${'ab'.repeat(64)}ac` as Hex },
    ])
      expect(receiptLeaf({ ...e, ...change })).not.toBe(receiptLeaf(e))
    expect(() => receiptLeaf({ ...e, amount: 1n << 128n })).toThrow(RangeError)
    expect(() => receiptLeaf({ ...e, cumulative: -1n })).toThrow(RangeError)
    expect(() => receiptLeaf({ ...e, assetId: -1n })).toThrow(RangeError)
    expect(() => receiptLeaf({ ...e, assetId: 1n << 256n })).toThrow(RangeError)
    expect(() => receiptLeaf({ ...e, inputHash: `0x${'zz'.repeat(32)}` })).toThrow(RangeError)
    expect(() => receiptLeaf({ ...e, idempotencyKey: h(1).slice(2) as Hex })).toThrow(RangeError)
    expect(() => receiptLeaf({ ...e, providerSignature: '0xabc' })).toThrow(RangeError)
    expect(() => receiptLeaf({ ...e, providerSignature: '0xzz' })).toThrow(RangeError)
    expect(() => receiptLeaf({ ...e, laneId: `0x${'00'.repeat(33)}` })).toThrow(RangeError)
    // UTF-8 cannot carry a lone surrogate: it would read as U+FFFD, another version
    expect(() => receiptLeaf({ ...e, modelVersion: '1.0.0-\ud800' })).toThrow(RangeError)
    expect(receiptLeaf({ ...e, modelVersion: '1.0.0-\ud83d\ude00' })).toBe(
      documentedLeaf({ ...e, modelVersion: '1.0.0-\ud83d\ude00' }),
    )
    // a latency that is not a finite number is written 0, as an out-of-range one is clamped
    expect(receiptLeaf({ ...e, latencyMs: Number.NaN })).toBe(receiptLeaf({ ...e, latencyMs: 0 }))
    expect(receiptLeaf({ ...e, latencyMs: -5 })).toBe(receiptLeaf({ ...e, latencyMs: 0 }))
  })

  it('root is sorted-pair sha256 over leaves; every proof verifies and a forged one does not', () => {
    expect(receiptRoot([])).toBe(`0x${'00'.repeat(32)}`)
    for (let n = 1; n <= 9; n++) {
      const ledger = createAttributionLedger()
      for (let i = 0; i < n; i++) ledger.record(record(i), null)
      const root = receiptRoot(ledger.entries)
      expect(root).toBe(documentedRoot(ledger.entries))
      for (let i = 0; i < n; i++) {
        const entry = ledger.entries[i] as LedgerEntry
        const proof = getReceiptProof(ledger.entries, i)
        expect(verifyReceiptProof({ root, leaf: receiptLeaf(entry), proof })).toBe(true)
        const forged = receiptLeaf({ ...entry, amount: entry.amount + 1n })
        expect(verifyReceiptProof({ root, leaf: forged, proof })).toBe(false)
        if (proof.length)
          expect(verifyReceiptProof({ root, leaf: receiptLeaf(entry), proof: proof.slice(1) })).toBe(false)
      }
    }
    const two = createAttributionLedger()
    two.record(record(0), null)
    two.record(record(1), null)
    const [l0, l1] = two.entries.map(receiptLeaf) as [Hex, Hex]
    const sorted = BigInt(l0) < BigInt(l1) ? [l0, l1] : [l1, l0]
    expect(receiptRoot(two.entries)).toBe(
      viemSha256(encodePacked(['bytes32', 'bytes32'], sorted as [Hex, Hex])),
    )
  })

  it('proofs take any hex case; a node that is not 32 bytes of hex is refused', () => {
    const ledger = createAttributionLedger()
    for (let i = 0; i < 5; i++) ledger.record(record(i), null)
    const root = receiptRoot(ledger.entries)
    const leaf = receiptLeaf(ledger.entries[4] as LedgerEntry)
    const proof = getReceiptProof(ledger.entries, 4)
    expect(proof).toHaveLength(1)
    const upper = (x: Hex) => `0x${x.slice(2).toUpperCase()}` as Hex
    expect(verifyReceiptProof({ root: upper(root), leaf: upper(leaf), proof: proof.map(upper) })).toBe(true)
    expect(() => verifyReceiptProof({ root, leaf: '0x1234', proof })).toThrow(RangeError)
    expect(() => verifyReceiptProof({ root, leaf, proof: ['0x1234'] })).toThrow(RangeError)
  })

  it('matches the receipt the Solidity test rebuilds on chain (contracts/test/ReceiptProof.t.sol)', () => {
    const ledger = createAttributionLedger()
    for (let i = 0; i < 3; i++) ledger.record(record(i), null)
    expect(ledger.entries.map(receiptLeaf)).toEqual(SOLIDITY_LEAVES)
    expect(receiptRoot(ledger.entries)).toBe(SOLIDITY_ROOT)
    for (let i = 0; i < 3; i++) expect(getReceiptProof(ledger.entries, i)).toEqual(SOLIDITY_PROOFS[i])
  })
})

describe('paid model-call actor', () => {
  it('runs a paid call inside a machine of your own, records it once, reuses it when invoked again', async () => {
    const a = setup()
    const ledger = createAttributionLedger()
    const upper = listings[1]
    if (!upper) throw new Error('fixture')
    const machine = xsetup({
      types: { output: {} as { first: unknown; second: unknown } },
      actors: { pay: createPaidCallActor({ caller: a.caller, ledger, budget: 100n }) },
    }).createMachine({
      context: { first: undefined as unknown, second: undefined as unknown },
      initial: 'one',
      states: {
        one: {
          invoke: {
            src: 'pay',
            input: { model: upper, input: { text: 'hey' }, runId, stepId: 'greet' },
            onDone: { target: 'two', actions: assign({ first: ({ event }) => event.output }) },
          },
        },
        two: {
          invoke: {
            src: 'pay',
            input: { model: upper, input: { text: 'hey' }, runId, stepId: 'greet' },
            onDone: { target: 'done', actions: assign({ second: ({ event }) => event.output }) },
          },
        },
        done: { type: 'final' },
      },
      output: ({ context }) => ({ first: context.first, second: context.second }),
    })
    const out = await toPromise(createActor(machine).start())
    expect(out.first).toMatchObject({ output: { text: 'HEY' }, reused: false })
    expect(out.second).toMatchObject({ output: { text: 'HEY' }, reused: true })
    expect(ledger.entries).toHaveLength(1)
    expect(a.stats.calls).toBe(1)
  })
})

import { type Address, erc20Abi } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { z } from 'zod'
import { readContract, type TributaryClient } from '../../src/chain/client.js'
import { ledgerAbi } from '../../src/chain/generated/Ledger.js'
import { type Devnet, startDevnet } from '../../src/chain/startDevnet.js'
import { approveOperator } from '../../src/market/approveOperator.js'
import { hashCard } from '../../src/market/card.js'
import { createDiscoveryIndex, type DiscoveryIndex } from '../../src/market/createDiscoveryIndex.js'
import { publishModel } from '../../src/market/publishModel.js'
import { createMarketCaller } from '../../src/models/createMarketCaller.js'
import { createWallet } from '../../src/models/createWallet.js'
import { defineModel, type ModelDefinition } from '../../src/models/defineModel.js'
import { type ServeModelsReturnType, serveModels } from '../../src/models/serveModels.js'
import { getLane } from '../../src/pay/getLane.js'
import type { Lane } from '../../src/pay/lane.js'
import { verifyCallReceipt } from '../../src/pay/verifyCallReceipt.js'
import { createChainSettler } from '../../src/workflow/createChainSettler.js'
import { fn } from '../../src/workflow/fn.js'
import { model } from '../../src/workflow/model.js'
import { run } from '../../src/workflow/run.js'
import { workflow } from '../../src/workflow/workflow.js'

let devnet: Devnet
let server: ServeModelsReturnType
let index: DiscoveryIndex
let token: Address
const ids: Record<string, bigint> = {}
const [BASE, DERIVED, WORDS] = ['acme/upper', 'acme/shout', 'acme/words'] as const

const Text = z.object({ text: z.string() })
const payeeOf = (i: number) => devnet.accounts[i]?.address as Address

function models(): ModelDefinition[] {
  const terms = (price: bigint, royaltyBps: number, payee: number) => ({
    pricePerCall: price,
    payees: [{ address: payeeOf(payee), shareBps: 10_000 }],
    royaltyBps,
  })
  return [
    defineModel({
      id: BASE,
      version: '1.0.0',
      description: 'upper-cases text',
      capabilities: ['text.upper'],
      input: Text,
      output: Text,
      terms: terms(2_000n, 1_000, 2),
      run: async ({ text }) => ({ text: text.toUpperCase() }),
    }),
    defineModel({
      id: DERIVED,
      version: '1.0.0',
      description: 'upper-cases text and shouts; derived from acme/upper',
      capabilities: ['text.shout'],
      input: Text,
      output: Text,
      terms: terms(5_000n, 0, 3),
      lineage: { parents: [BASE] },
      run: async ({ text }) => ({ text: `${text.toUpperCase()}!` }),
    }),
    defineModel({
      id: WORDS,
      version: '1.0.0',
      description: 'counts words',
      capabilities: ['text.count'],
      input: Text,
      output: z.object({ words: z.number() }),
      terms: terms(1_000n, 0, 4),
      run: async ({ text }) => ({ words: text.split(/\s+/).filter(Boolean).length }),
    }),
  ]
}

beforeAll(async () => {
  devnet = await startDevnet({ accounts: 7 })
  token = devnet.addresses.stablecoin
  const defs = models()
  server = await serveModels(defs, { client: devnet.client(1), token, assetIds: (id) => ids[id] })
  for (const [i, def] of defs.entries()) {
    const owner = devnet.client(2 + i)
    const r = await publishModel(owner, {
      cardURI: server.cardUrl(def.id),
      cardHash: hashCard(def.cardFor({ endpoint: server.endpoint(def.id) })),
      terms: { token, pricePerCall: def.terms.pricePerCall },
      payees: def.terms.payees,
      royaltyBps: def.terms.royaltyBps,
      parents: def.lineage.parents.map((p) => ids[p] as bigint),
    })
    ids[def.id] = r.assetId
    await approveOperator(owner, { operator: devnet.accounts[1]?.address as Address, assetId: r.assetId })
  }
  index = createDiscoveryIndex({ client: devnet.client(6) })
  await index.sync()
})
afterAll(async () => {
  await server?.stop({ redeem: false })
  await devnet?.stop()
})

const flow = workflow({ id: 'shout-and-count', input: z.object({ lines: z.array(z.string()).max(4) }) })
  .step(
    'joined',
    fn((x: { lines: string[] }) => ({ text: x.lines.join(' ') })),
    ($) => ({ lines: $.input.lines }),
  )
  .step('base', model(`${BASE}@^1`, { input: Text, output: Text }), ($) => ({ text: $.steps.joined.text }))
  .parallel('both', (b) => ({
    shout: b.step(model({ capability: 'text.shout' }, { input: Text, output: Text }), ($) => ({
      text: $.steps.base.text,
    })),
    count: b.step(model(`${WORDS}@^1`, { input: Text, output: z.object({ words: z.number() }) }), ($) => ({
      text: $.steps.base.text,
    })),
  }))
  .map(
    'each',
    ($) => $.input.lines,
    (b) => b.step(model(`${DERIVED}@^1`, { input: Text, output: Text }), ($) => ({ text: $.item })),
    {
      concurrency: 2,
    },
  )
  .output(($) => ({ shout: $.steps.both.shout.text, words: $.steps.both.count.words, each: $.steps.each }))

describe('a workflow run on the devnet', () => {
  test('pays every call through lanes and settles once: every balance to the unit', async () => {
    const payer: TributaryClient = devnet.client(6)
    const payerAddress = devnet.accounts[6]?.address as Address
    const balance = (who: Address) =>
      readContract<bigint>(payer, { address: token, abi: erc20Abi, functionName: 'balanceOf', args: [who] })
    const credit = (assetId: bigint) =>
      readContract<bigint>(payer, {
        address: devnet.addresses.ledger,
        abi: ledgerAbi,
        functionName: 'creditOf',
        args: [token, assetId],
      })
    const escrow = () =>
      readContract<bigint>(payer, {
        address: devnet.addresses.ledger,
        abi: ledgerAbi,
        functionName: 'escrowOf',
        args: [token, payerAddress],
      })
    const walletBefore = await balance(payerAddress)
    const ledgerBefore = await balance(devnet.addresses.ledger)
    const creditsBefore = await Promise.all([BASE, DERIVED, WORDS].map((id) => credit(ids[id] as bigint)))

    const wallet = createWallet({ client: payer, policy: { perCall: 10_000n, perRun: 100_000n } })
    const settler = createChainSettler(payer)
    const result = await run(
      flow,
      { lines: ['hello world', 'tributary pays'] },
      {
        directory: index,
        caller: createMarketCaller({ wallet }),
        settler,
        budget: 100_000n,
      },
    )
    expect(result.status).toBe('succeeded')
    if (result.status !== 'succeeded') return
    expect(result.output).toEqual({
      shout: 'HELLO WORLD TRIBUTARY PAYS!',
      words: 4,
      each: [{ text: 'HELLO WORLD!' }, { text: 'TRIBUTARY PAYS!' }],
    })

    // calls: base ×1 (2000), shout ×3 (5000: one in the parallel, two in the map), words ×1 (1000)
    expect(result.receipt.entries).toHaveLength(5)
    const settlement = settler.settlements[0]
    expect(settler.settlements).toHaveLength(1)
    expect(settlement?.total).toBe(2_000n + 3n * 5_000n + 1_000n)
    expect(result.receipt.settlement?.txHash).toBe(settlement?.txHash)

    // every entry carries what checks its provider's signature: the receipt's fields, the voucher and the proof
    for (const e of result.receipt.entries) {
      const v = await verifyCallReceipt({
        chainId: devnet.chainId,
        ledger: devnet.addresses.ledger,
        receipt: {
          laneId: e.laneId,
          assetId: e.assetId,
          model: e.modelId,
          version: e.modelVersion,
          inputHash: e.inputHash,
          outputHash: e.outputHash,
          amount: e.amount,
          cumulative: e.cumulative,
          voucher: e.voucher as bigint,
        },
        signature: e.providerSignature,
        proof: e.receiptProof ?? [],
      })
      expect(v.valid && v.signer.toLowerCase()).toBe(devnet.accounts[1]?.address.toLowerCase())
    }

    // shout owes acme/upper 10% of 15 000; the rest of each price to its model
    const after = await Promise.all([BASE, DERIVED, WORDS].map((id) => credit(ids[id] as bigint)))
    expect(after[0]! - creditsBefore[0]!).toBe(2_000n + 1_500n)
    expect(after[1]! - creditsBefore[1]!).toBe(13_500n)
    expect(after[2]! - creditsBefore[2]!).toBe(1_000n)

    // each lane charged exactly what its calls cost; the rest of its cap is still the payer's
    const lanes = new Map<string, { lane: Lane; total: bigint }>()
    for (const e of result.receipt.entries) {
      const lane = e.lane as Lane
      const prev = lanes.get(lane.laneId)
      lanes.set(lane.laneId, { lane, total: (prev?.total ?? 0n) + e.amount })
    }
    let locked = 0n
    for (const { lane, total } of lanes.values()) {
      const s = await getLane(payer, { laneId: lane.laneId })
      expect(s.claimed).toBe(total)
      locked += s.cap
    }
    // conservation: what left the wallet is in the lanes (claimed or not) and in escrow
    const spentFromWallet = walletBefore - (await balance(payerAddress))
    expect(spentFromWallet).toBe(locked + (await escrow()))
    expect((await balance(devnet.addresses.ledger)) - ledgerBefore).toBe(spentFromWallet)
  })
})

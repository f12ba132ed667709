import { type Address, getAddress, keccak256, toHex } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { readContract, type TributaryClient } from '../../src/chain/client.js'
import { ledgerAbi } from '../../src/chain/generated/Ledger.js'
import { type Devnet, startDevnet } from '../../src/chain/startDevnet.js'
import { publishModel } from '../../src/market/publishModel.js'
import { ProviderCallError, SpendPolicyError } from '../../src/models/callErrors.js'
import { callModel } from '../../src/models/callModel.js'
import { createMarketCaller } from '../../src/models/createMarketCaller.js'
import { createWallet } from '../../src/models/createWallet.js'
import type { ModelDefinition } from '../../src/models/defineModel.js'
import { createFileLaneStore } from '../../src/models/laneStore.js'
import { type ServeModelsReturnType, serveModels } from '../../src/models/serveModels.js'
import { getLane } from '../../src/pay/getLane.js'
import type { Lane } from '../../src/pay/lane.js'
import { settleRun } from '../../src/pay/settleRun.js'
import { verifyCallReceipt } from '../../src/pay/verifyCallReceipt.js'
import type { ResolvedModel } from '../../src/workflow/types.js'
import { resolvedOf, reverseModel, shoutModel } from './fixtures/models.js'

let devnet: Devnet
let provider: TributaryClient
let server: ServeModelsReturnType
let token: Address
let shout: ModelDefinition
let reverse: ModelDefinition
const assetIds: Record<string, bigint> = {}

const credit = (assetId: bigint) =>
  readContract<bigint>(provider, {
    address: devnet.addresses.ledger,
    abi: ledgerAbi,
    functionName: 'creditOf',
    args: [token, assetId],
  })
const escrow = (who: Address) =>
  readContract<bigint>(provider, {
    address: devnet.addresses.ledger,
    abi: ledgerAbi,
    functionName: 'escrowOf',
    args: [token, who],
  })
const blockNumber = () => provider.publicClient.getBlockNumber()

const resolved = (m: ModelDefinition): ResolvedModel =>
  resolvedOf(m, { assetId: assetIds[m.id] as bigint, token, endpoint: server.endpoint(m.id) })

beforeAll(async () => {
  devnet = await startDevnet({ accounts: 8 })
  token = devnet.addresses.stablecoin
  provider = devnet.client(1)
  shout = shoutModel(provider.account.address)
  reverse = reverseModel(provider.account.address)
  server = await serveModels([shout, reverse], {
    client: provider,
    assetIds: (id) => assetIds[id],
    pollIntervalMs: 100,
    redeem: { exposureThreshold: 10n ** 18n, beforeExpirySeconds: 60 },
  })
  for (const m of [shout, reverse]) {
    const card = m.cardFor({ endpoint: server.endpoint(m.id) })
    const r = await publishModel(provider, {
      cardURI: server.cardUrl(m.id),
      cardHash: m.cardHash(card),
      terms: { token, pricePerCall: m.terms.pricePerCall },
      payees: [{ address: provider.account.address, shareBps: 10_000 }],
      royaltyBps: 0,
    })
    assetIds[m.id] = r.assetId
  }
})
afterAll(async () => {
  await server?.stop({ redeem: false })
  await devnet?.stop()
})

describe('the whole paid flow', () => {
  test('402 → lane opened once → paid calls with verified receipts → settleRun pays exactly', async () => {
    const payer = devnet.client(2)
    const wallet = createWallet({ client: payer, lanes: { calls: 50 } })
    const price = shout.terms.pricePerCall

    // without a voucher the provider answers 402 with machine-readable requirements
    const bare = await fetch(server.endpoint(shout.id), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hi' }),
    })
    expect(bare.status).toBe(402)
    const required = await bare.json()
    expect(required).toMatchObject({
      x402Version: 2,
      code: 'payment_required',
      accepts: [
        {
          scheme: 'tributary-lane',
          network: 'eip155:31337',
          chainId: 31337,
          asset: getAddress(token),
          amount: '1000',
          ledger: getAddress(devnet.addresses.ledger),
          assetId: String(assetIds[shout.id]),
          model: 'acme/shout',
          version: '1.0.0',
          termsVersion: 1,
          payTo: provider.account.address,
        },
      ],
    })
    expect(JSON.parse(Buffer.from(bare.headers.get('payment-required') ?? '', 'base64').toString())).toEqual(
      required,
    )

    const escrowBefore = await escrow(payer.account.address)
    const first = await callModel<{ text: string }>(resolved(shout), { text: 'hello' }, { wallet })
    expect(first.output).toEqual({ text: 'HELLO' })
    const pay = first.payment
    if (!pay) throw new Error('expected a payment')
    expect(pay.amount).toBe(price)
    expect(pay.cumulative).toBe(price)
    expect(pay.voucher).toBe(price)
    expect(pay.provider).toBe(provider.account.address)
    expect(pay.inputHash).toBe(keccak256(toHex('{"text":"hello"}')))
    expect(pay.outputHash).toBe(keccak256(toHex('{"text":"HELLO"}')))
    expect(pay.lane.modelId).toBe(assetIds[shout.id])
    const lane = pay.lane
    expect(await getLane(payer, { laneId: lane.laneId })).toMatchObject({ cap: 50n * price, claimed: 0n })

    // later calls reuse the lane: no transaction at all
    const before = await blockNumber()
    const calls = await Promise.all(
      ['a', 'b', 'c', 'd'].map((text) => callModel<{ text: string }>(resolved(shout), { text }, { wallet })),
    )
    expect(await blockNumber()).toBe(before)
    expect(calls.map((c) => c.output.text)).toEqual(['A', 'B', 'C', 'D'])
    expect(calls.every((c) => c.payment?.lane.laneId === lane.laneId)).toBe(true)
    const last = calls.reduce(
      (m, c) => ((c.payment?.cumulative ?? 0n) > m ? (c.payment?.cumulative as bigint) : m),
      0n,
    )
    expect(last).toBe(5n * price)
    expect(wallet.spent().today).toBe(5n * price)

    // the payer settles its run: exactly five calls are paid
    const creditBefore = await credit(assetIds[shout.id] as bigint)
    const settled = await settleRun(payer, {
      receiptRoot: keccak256(toHex('run-paid-flow')),
      claims: [{ lane, cumulative: last }],
    })
    expect(settled.total).toBe(5n * price)
    expect(await credit(assetIds[shout.id] as bigint)).toBe(creditBefore + 5n * price)
    expect((await getLane(payer, { laneId: lane.laneId })).claimed).toBe(5n * price)
    // the lane's cap came out of the wallet into escrow and was locked; nothing else moved
    expect(await escrow(payer.account.address)).toBe(escrowBefore)

    // the provider learns of the settlement from events and carries on from there
    await server.router.provider.sync()
    await new Promise((r) => setTimeout(r, 100))
    const next = await callModel<{ text: string }>(resolved(shout), { text: 'again' }, { wallet })
    expect(next.payment?.cumulative).toBe(6n * price)
    expect(server.router.provider.lane(lane.laneId)).toMatchObject({
      charged: String(6n * price),
      claimed: String(5n * price),
    })
  })

  test('a model found by its card URL: the card is checked against its on-chain hash', async () => {
    const wallet = createWallet({ client: devnet.client(3) })
    const r = await callModel<{ text: string }>(
      { url: server.cardUrl(reverse.id) },
      { text: 'abc' },
      { wallet },
    )
    expect(r.output).toEqual({ text: 'cba' })
    expect(r.payment?.amount).toBe(reverse.terms.pricePerCall)
    const byEndpoint = await callModel<{ text: string }>(
      { url: server.endpoint(reverse.id) },
      { text: 'xy' },
      { wallet },
    )
    expect(byEndpoint.output).toEqual({ text: 'yx' })
    expect(byEndpoint.payment?.lane.laneId).toBe(r.payment?.lane.laneId)
  })

  test('the cards and health endpoints', async () => {
    const list = (await (await fetch(`${server.url}/.well-known/tributary/cards`)).json()) as {
      cards: { id: string; endpoint: string }[]
    }
    expect(list.cards.map((c) => [c.id, c.endpoint])).toEqual([
      ['acme/shout', server.endpoint('acme/shout')],
      ['acme/reverse', server.endpoint('acme/reverse')],
    ])
    const card = (await (await fetch(server.cardUrl(shout.id))).json()) as typeof shout.card
    expect(shout.cardHash(card)).toBe(shout.cardHash(shout.cardFor({ endpoint: server.endpoint(shout.id) })))
    const health = await fetch(`${server.url}/health`)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({
      status: 'ok',
      payment: 'required',
      chain: { synced: true, chainId: 31337 },
      models: [
        { id: 'acme/shout', status: 'ready', assetId: String(assetIds[shout.id]) },
        { id: 'acme/reverse', status: 'ready' },
      ],
    })
  })
})

describe('failed calls and retries', () => {
  test('a failed call is not charged; the next one is charged from where the lane stood', async () => {
    const wallet = createWallet({ client: devnet.client(4) })
    const price = shout.terms.pricePerCall
    await server.router.provider.redeem()
    const ok = await callModel(resolved(shout), { text: 'one' }, { wallet })
    const lane = ok.payment?.lane as Lane
    const err = await callModel(resolved(shout), { text: 'boom' }, { wallet, retries: 1 }).catch((e) => e)
    expect(err).toBeInstanceOf(ProviderCallError)
    expect(err).toMatchObject({ status: 500, code: 'model_failed', body: { charged: false } })
    expect(server.router.provider.lane(lane.laneId)).toMatchObject({ charged: String(price), inflight: '0' })
    const invalid = await callModel(resolved(shout), { text: 42 }, { wallet }).catch((e) => e)
    expect(invalid).toMatchObject({ status: 400, code: 'invalid_input' })
    expect(invalid.body.issues[0]).toMatchObject({ path: ['text'] })
    const two = await callModel(resolved(shout), { text: 'two' }, { wallet })
    expect(two.payment?.cumulative).toBe(2n * price)
    expect(wallet.spent().today).toBe(2n * price)
    // the provider redeems alone exactly what the successful calls cost
    const creditBefore = await credit(assetIds[shout.id] as bigint)
    await server.router.provider.redeem()
    expect((await getLane(wallet.client, { laneId: lane.laneId })).claimed).toBe(2n * price)
    expect(await credit(assetIds[shout.id] as bigint)).toBe(creditBefore + 2n * price)
  })

  test('the same idempotency key is answered once and charged once, even when sent concurrently', async () => {
    const wallet = createWallet({ client: devnet.client(5) })
    const price = shout.terms.pricePerCall
    const first = await callModel(resolved(shout), { text: 'once' }, { wallet, idempotencyKey: 'k-1' })
    const again = await callModel(resolved(shout), { text: 'once' }, { wallet, idempotencyKey: 'k-1' })
    expect(again.replayed).toBe(true)
    expect(again.payment?.receipt).toEqual(first.payment?.receipt)
    const lane = first.payment?.lane as Lane
    expect(server.router.provider.lane(lane.laneId)?.charged).toBe(String(price))

    const burst = await Promise.all(
      Array.from({ length: 6 }, () =>
        callModel(resolved(shout), { text: 'burst' }, { wallet, idempotencyKey: 'k-2' }),
      ),
    )
    expect(new Set(burst.map((b) => b.payment?.receipt.cumulative)).size).toBe(1)
    expect(burst.filter((b) => !b.replayed)).toHaveLength(1)
    expect(server.router.provider.lane(lane.laneId)?.charged).toBe(String(2n * price))

    const reused = await callModel(
      resolved(shout),
      { text: 'different' },
      { wallet, idempotencyKey: 'k-1' },
    ).catch((e) => e)
    expect(reused).toMatchObject({ status: 422, code: 'idempotency_key_reused' })
    expect(server.router.provider.lane(lane.laneId)?.charged).toBe(String(2n * price))
  })

  test('many concurrent calls on one lane (vouchers arrive out of order) are each charged once', async () => {
    const wallet = createWallet({ client: devnet.client(6), lanes: { calls: 100 } })
    const price = shout.terms.pricePerCall
    await callModel(resolved(shout), { text: 'warm' }, { wallet })
    await server.router.provider.redeem()
    const claimedBefore = (
      await getLane(wallet.client, { laneId: wallet.lanes()[0]?.lane.laneId as `0x${string}` })
    ).claimed
    const signaturesBefore = server.router.provider.stats.receiptSignatures
    const batchedBefore = server.router.provider.stats.batchedVouchers
    const voucherSignaturesBefore = wallet.state.voucherSigner?.stats.signatures ?? 0
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        callModel<{ text: string }>(resolved(shout), { text: `c${i}` }, { wallet }),
      ),
    )
    expect(results.map((r) => r.output.text)).toEqual(Array.from({ length: 40 }, (_, i) => `C${i}`))
    const lane = results[0]?.payment?.lane as Lane
    const cumulatives = results.map((r) => r.payment?.cumulative as bigint).sort((a, b) => (a < b ? -1 : 1))
    expect(cumulatives).toEqual(Array.from({ length: 40 }, (_, i) => BigInt(i + 2) * price))
    // the 40 calls start in one turn: their vouchers are signed together, once, each with its own proof
    expect((wallet.state.voucherSigner?.stats.signatures ?? 0) - voucherSignaturesBefore).toBe(1)
    expect(server.router.provider.stats.batchedVouchers - batchedBefore).toBe(40)
    // calls finishing together share one receipt signature; each receipt proves to the provider alone
    const signatures = server.router.provider.stats.receiptSignatures - signaturesBefore
    expect(signatures).toBeLessThan(40)
    expect(new Set(results.map((r) => r.payment?.providerSignature)).size).toBe(signatures)
    for (const r of results) {
      const p = r.payment as NonNullable<typeof r.payment>
      const v = await verifyCallReceipt({
        chainId: devnet.chainId,
        ledger: devnet.addresses.ledger,
        receipt: p.receipt,
        signature: p.providerSignature,
        proof: p.receiptProof,
      })
      expect(v.valid && getAddress(v.signer)).toBe(p.provider)
    }
    const creditBefore = await credit(assetIds[shout.id] as bigint)
    await server.router.provider.redeem()
    expect((await getLane(wallet.client, { laneId: lane.laneId })).claimed).toBe(41n * price)
    expect(await credit(assetIds[shout.id] as bigint)).toBe(creditBefore + 41n * price - claimedBefore)
  })
})

describe('lane top-ups', () => {
  test('an exhausted lane is topped up by the client and seen by the provider at once', async () => {
    const wallet = createWallet({ client: devnet.client(5), lanes: { calls: 2 } })
    const price = reverse.terms.pricePerCall
    const outputs = []
    for (const text of ['ab', 'cd', 'ef', 'gh', 'ij'])
      outputs.push((await callModel<{ text: string }>(resolved(reverse), { text }, { wallet })).output.text)
    expect(outputs).toEqual(['ba', 'dc', 'fe', 'hg', 'ji'])
    const lane = wallet.lanes()[0]
    if (!lane) throw new Error('no lane')
    // two top-ups of two calls each, never more
    expect(await getLane(wallet.client, { laneId: lane.lane.laneId })).toMatchObject({
      cap: 6n * price,
      claimed: 0n,
    })
    expect(lane.cap).toBe(6n * price)
    expect(server.router.provider.lane(lane.lane.laneId)).toMatchObject({
      cap: String(6n * price),
      charged: String(5n * price),
    })
  })
})

describe('spend policy', () => {
  test('refusals are typed and come before any signature or transaction', async () => {
    const client = devnet.client(7)
    const before = await blockNumber()
    const check = async (
      policy: Parameters<typeof createWallet>[0]['policy'],
      rule: string,
      runId?: string,
    ) => {
      const wallet = createWallet({ client, policy })
      const err = await callModel(
        resolved(shout),
        { text: 'x' },
        { wallet, ...(runId ? { runId } : {}) },
      ).catch((e) => e)
      expect(err).toBeInstanceOf(SpendPolicyError)
      expect(err.rule).toBe(rule)
      expect(wallet.lanes()).toEqual([])
    }
    await check({ perCall: 999n }, 'perCall')
    await check({ denyModels: ['acme/*'] }, 'modelDenied')
    await check({ allowModels: [assetIds[reverse.id] as bigint] }, 'modelNotAllowed')
    await check({ denyPublishers: [provider.account.address] }, 'publisherDenied')
    await check({ allowPublishers: [client.account.address] }, 'publisherNotAllowed')
    await check({ perDay: 500n }, 'perDay')
    await check({ perRun: 10n }, 'perRun', 'run-1')
    await check({ maxLaneCap: 10n }, 'maxLaneCap')
    expect(await blockNumber()).toBe(before)
    expect(await escrow(client.account.address)).toBe(0n)
  })

  test('per-run and per-day caps count what was spent', async () => {
    const wallet = createWallet({ client: devnet.client(7), policy: { perRun: 2_000n, perDay: 3_000n } })
    await callModel(resolved(shout), { text: '1' }, { wallet, runId: 'r' })
    await callModel(resolved(shout), { text: '2' }, { wallet, runId: 'r' })
    await expect(callModel(resolved(shout), { text: '3' }, { wallet, runId: 'r' })).rejects.toMatchObject({
      rule: 'perRun',
    })
    await callModel(resolved(shout), { text: '3' }, { wallet, runId: 'other' })
    await expect(callModel(resolved(shout), { text: '4' }, { wallet, runId: 'third' })).rejects.toMatchObject(
      { rule: 'perDay' },
    )
    expect(wallet.spent('r')).toEqual({ today: 3_000n, run: 2_000n })
  })
})

describe('the workflow adapter and lane stores', () => {
  test('createMarketCaller returns PaidCallPayment with the Lane that settleRun takes', async () => {
    const payer = devnet.client(3)
    const path = `/tmp/tributary-lanes-${process.pid}.json`
    const wallet = createWallet({ client: payer, laneStore: createFileLaneStore(path) })
    const caller = createMarketCaller({ wallet })
    const ac = new AbortController()
    const runId = keccak256(toHex('run-caller'))
    const r = await caller.call(
      resolved(shout),
      { text: 'via engine' },
      {
        runId,
        idempotencyKey: keccak256(toHex('k')),
        stepId: 's',
        item: 0,
        signal: ac.signal,
      },
    )
    expect(r.output).toEqual({ text: 'VIA ENGINE' })
    expect(r.payment.amount).toBe(shout.terms.pricePerCall)
    const lane = r.payment.lane as Lane
    expect(lane.laneId).toBe(r.payment.laneId)

    // a new process (a new wallet on the same store) reuses the stored lane: no transaction
    const before = await blockNumber()
    const again = createWallet({ client: payer, laneStore: createFileLaneStore(path) })
    const r2 = await callModel(resolved(shout), { text: 'stored lane' }, { wallet: again })
    expect(r2.payment?.lane.laneId).toBe(lane.laneId)
    expect(await blockNumber()).toBe(before)

    const settled = await settleRun(payer, {
      receiptRoot: keccak256(toHex('run-caller-root')),
      claims: [{ lane, cumulative: r2.payment?.cumulative as bigint }],
    })
    expect(settled.total).toBe(2n * shout.terms.pricePerCall)
  })
})

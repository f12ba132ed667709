import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { type Address, keccak256, toHex } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { readContract, type TributaryClient } from '../../src/chain/client.js'
import { ledgerAbi } from '../../src/chain/generated/Ledger.js'
import { type Devnet, startDevnet } from '../../src/chain/startDevnet.js'
import { publishModel } from '../../src/market/publishModel.js'
import { ProviderUnreachableError } from '../../src/models/callErrors.js'
import { callModel } from '../../src/models/callModel.js'
import { createWallet } from '../../src/models/createWallet.js'
import { serveModels } from '../../src/models/serveModels.js'
import { getLane } from '../../src/pay/getLane.js'
import { settleRun } from '../../src/pay/settleRun.js'
import type { ResolvedModel } from '../../src/workflow/types.js'
import { resolvedOf, reverseModel, shoutModel, slowModel } from './fixtures/models.js'

let devnet: Devnet
let provider: TributaryClient
let token: Address
const children = new Set<ChildProcess>()

const credit = (assetId: bigint) =>
  readContract<bigint>(provider, {
    address: devnet.addresses.ledger,
    abi: ledgerAbi,
    functionName: 'creditOf',
    args: [token, assetId],
  })

async function publish(price: bigint, cardURI: string, cardHash: `0x${string}`) {
  const r = await publishModel(provider, {
    cardURI,
    cardHash,
    terms: { token, pricePerCall: price },
    payees: [{ address: provider.account.address, shareBps: 10_000 }],
    royaltyBps: 0,
  })
  return r.assetId
}

/** Starts a provider of the slow model in its own process and returns its endpoint. */
async function startChild(assetId: bigint): Promise<{ child: ChildProcess; endpoint: string }> {
  const fixture = fileURLToPath(new URL('./fixtures/slowProvider.ts', import.meta.url))
  const a = devnet.addresses
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      fixture,
      devnet.rpcUrl,
      a.registry,
      a.ledger,
      a.stablecoin,
      devnet.accounts[1]?.privateKey as string,
      String(assetId),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  children.add(child)
  child.once('exit', () => children.delete(child))
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream })
    rl.once('line', resolve)
    child.once('exit', (code) => reject(new Error(`provider process exited with ${code}`)))
  })
  return { child, endpoint: (JSON.parse(line) as { endpoint: string }).endpoint }
}

const killed = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGKILL')
  })

beforeAll(async () => {
  devnet = await startDevnet({ accounts: 6 })
  token = devnet.addresses.stablecoin
  provider = devnet.client(1)
})
afterAll(async () => {
  await Promise.all([...children].map(killed))
  await devnet?.stop()
})

describe('a provider killed in the middle of a call', () => {
  test('charges nothing; a restarted provider charges only the calls it completes', async () => {
    const model = slowModel(provider.account.address)
    const assetId = await publish(model.terms.pricePerCall, 'http://127.0.0.1/cards/slow.json', model.hash)
    const payer = devnet.client(2)
    const wallet = createWallet({ client: payer, lanes: { calls: 10 } })
    const first = await startChild(assetId)
    const resolved = (endpoint: string): ResolvedModel => resolvedOf(model, { assetId, token, endpoint })

    const call = callModel(resolved(first.endpoint), { ms: 10_000 }, { wallet, retries: 0 })
    call.catch(() => undefined)
    // wait until the lane is open and the paid request is running inside the slow model
    for (let i = 0; i < 200 && wallet.lanes().length === 0; i++) await new Promise((r) => setTimeout(r, 25))
    await new Promise((r) => setTimeout(r, 700))
    const lane = wallet.lanes()[0]?.lane
    if (!lane) throw new Error('the lane was not opened')
    expect(wallet.lanes()[0]?.signed).toBe(model.terms.pricePerCall)
    await killed(first.child)
    const err = await call.catch((e) => e)
    expect(err).toBeInstanceOf(ProviderUnreachableError)
    const state = await getLane(payer, { laneId: lane.laneId })
    expect(state).toMatchObject({ claimed: 0n, remaining: state.cap })
    expect(await credit(assetId)).toBe(0n)
    expect(wallet.spent().today).toBe(0n)

    // a restarted provider knows nothing of the lost call: the next call is the first one charged
    const second = await startChild(assetId)
    try {
      const r = await callModel(resolved(second.endpoint), { ms: 10 }, { wallet })
      expect(r.output).toEqual({ slept: 10 })
      expect(r.payment?.cumulative).toBe(model.terms.pricePerCall)
      const settled = await settleRun(payer, {
        receiptRoot: keccak256(toHex('after-crash')),
        claims: [{ lane, cumulative: r.payment?.cumulative as bigint }],
      })
      expect(settled.total).toBe(model.terms.pricePerCall)
      expect(await credit(assetId)).toBe(model.terms.pricePerCall)
    } finally {
      await killed(second.child)
    }
  })
})

describe('a provider that redeems alone', () => {
  test('is paid exactly what was signed for its successful calls: at the threshold, and when it stops', async () => {
    const model = shoutModel(provider.account.address, 2_500n)
    const price = model.terms.pricePerCall
    const assetIds: Record<string, bigint> = {}
    const server = await serveModels([model], {
      client: provider,
      assetIds: (id) => assetIds[id],
      pollIntervalMs: 100,
      redeem: { exposureThreshold: 3n * price, beforeExpirySeconds: 60 },
    })
    try {
      const assetId = await publish(
        price,
        server.cardUrl(model.id),
        model.cardHash(model.cardFor({ endpoint: server.endpoint(model.id) })),
      )
      assetIds[model.id] = assetId
      const payer = devnet.client(3)
      const wallet = createWallet({ client: payer, lanes: { calls: 20 } })
      const resolved: ResolvedModel = {
        ...resolvedOf(model, { assetId, token, endpoint: server.endpoint(model.id) }),
        pricePerCall: price,
      }
      for (const text of ['a', 'b']) await callModel(resolved, { text }, { wallet })
      await expect(callModel(resolved, { text: 'boom' }, { wallet, retries: 0 })).rejects.toMatchObject({
        status: 500,
      })
      await callModel(resolved, { text: 'c' }, { wallet })
      const laneId = wallet.lanes()[0]?.lane.laneId as `0x${string}`
      // three successful calls reach the threshold: the provider redeems by itself
      for (let i = 0; i < 300 && (await getLane(payer, { laneId })).claimed === 0n; i++)
        await new Promise((r) => setTimeout(r, 50))
      expect((await getLane(payer, { laneId })).claimed).toBe(3n * price)
      expect(await credit(assetId)).toBe(3n * price)
      // three calls started together: their vouchers are signed in one batch, each with its proof
      const together = await Promise.allSettled(
        ['d', 'boom', 'e'].map((text) => callModel(resolved, { text }, { wallet, retries: 0 })),
      )
      expect(together.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
      expect((together[1] as PromiseRejectedResult).reason).toMatchObject({ status: 500 })
      expect(wallet.state.voucherSigner?.stats).toMatchObject({ vouchers: 7 })
      expect(server.stats.batchedVouchers).toBe(2)
      // stopping redeems what is still owed (with the batch's proof): five successful calls, the failed ones never
      await server.stop()
      const state = await getLane(payer, { laneId })
      expect(state.claimed).toBe(5n * price)
      expect(state.remaining).toBe(20n * price - 5n * price)
      expect(await credit(assetId)).toBe(5n * price)
      expect(server.stats).toMatchObject({ charged: 5n * price, redeemed: 5n * price, unredeemed: 0n })
    } finally {
      await server.stop({ redeem: false })
    }
  })
})

describe('a lane near its expiry', () => {
  test('is redeemed by the provider without being asked', async () => {
    const model = shoutModel(provider.account.address, 700n)
    const assetIds: Record<string, bigint> = {}
    const server = await serveModels([model], {
      client: provider,
      assetIds: (id) => assetIds[id],
      pollIntervalMs: 100,
      redeem: { exposureThreshold: 10n ** 18n, beforeExpirySeconds: 3_600 },
    })
    try {
      const assetId = await publish(
        700n,
        server.cardUrl(model.id),
        model.cardHash(model.cardFor({ endpoint: server.endpoint(model.id) })),
      )
      assetIds[model.id] = assetId
      const payer = devnet.client(4)
      // lanes of this wallet live ten minutes: inside the provider's one-hour window from the start
      const wallet = createWallet({ client: payer, lanes: { calls: 10, ttlSeconds: 600 } })
      const resolved: ResolvedModel = {
        ...resolvedOf(model, { assetId, token, endpoint: server.endpoint(model.id) }),
        pricePerCall: 700n,
      }
      await callModel(resolved, { text: 'x' }, { wallet })
      await callModel(resolved, { text: 'y' }, { wallet })
      const laneId = wallet.lanes()[0]?.lane.laneId as `0x${string}`
      for (let i = 0; i < 300 && (await getLane(payer, { laneId })).claimed === 0n; i++)
        await new Promise((r) => setTimeout(r, 50))
      expect((await getLane(payer, { laneId })).claimed).toBe(1_400n)
      expect(await credit(assetId)).toBe(1_400n)
    } finally {
      await server.stop({ redeem: false })
    }
  })
})

describe('a lane past its expiry and the reclaim delay', () => {
  test("is left out of the provider's redemptions, so the payer's other lanes are still redeemed", async () => {
    const shout = shoutModel(provider.account.address, 500n)
    const reverse = reverseModel(provider.account.address, 300n)
    const assetIds: Record<string, bigint> = {}
    const server = await serveModels([shout, reverse], {
      client: provider,
      assetIds: (id) => assetIds[id],
      pollIntervalMs: 100,
      redeem: { exposureThreshold: 10n ** 18n, beforeExpirySeconds: 1 },
    })
    try {
      for (const m of [shout, reverse])
        assetIds[m.id] = await publish(
          m.terms.pricePerCall,
          server.cardUrl(m.id),
          m.cardHash(m.cardFor({ endpoint: server.endpoint(m.id) })),
        )
      const payer = devnet.client(5)
      // one payer, two lanes: one that lives a minute, one that lives a day
      const brief = createWallet({ client: payer, lanes: { calls: 10, ttlSeconds: 60 } })
      const lasting = createWallet({ client: payer, lanes: { calls: 10, ttlSeconds: 86_400 } })
      const on = (m: typeof shout, price: bigint) => ({
        ...resolvedOf(m, { assetId: assetIds[m.id] as bigint, token, endpoint: server.endpoint(m.id) }),
        pricePerCall: price,
      })
      await callModel(on(shout, 500n), { text: 'a' }, { wallet: brief })
      await callModel(on(reverse, 300n), { text: 'b' }, { wallet: lasting })
      // the provider was away past the brief lane's expiry plus the reclaim delay (an hour on the devnet)
      await devnet.increaseTime(60 + 3_600 + 5)
      await server.router.provider.sync()
      await server.router.provider.redeem()
      const lastingLane = lasting.lanes()[0]?.lane.laneId as `0x${string}`
      const briefLane = brief.lanes()[0]?.lane.laneId as `0x${string}`
      expect((await getLane(payer, { laneId: lastingLane })).claimed).toBe(300n)
      expect((await getLane(payer, { laneId: briefLane })).claimed).toBe(0n)
      // what the dead lane holds is no longer counted as owed (nor does it keep the threshold passed)
      expect(server.stats.unredeemed).toBe(0n)
    } finally {
      await server.stop({ redeem: false })
    }
  })
})

import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Address } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { z } from 'zod'
import { type Devnet, startDevnet } from '../../src/chain/startDevnet.js'
import { type Card, hashCard } from '../../src/market/card.js'
import { createDiscoveryIndex, type DiscoveryIndex } from '../../src/market/createDiscoveryIndex.js'
import { publishModel } from '../../src/market/publishModel.js'
import { updateModel } from '../../src/market/updateModel.js'
import { defineModel } from '../../src/models/defineModel.js'

let devnet: Devnet
let server: Server
let base: string
const routes = new Map<string, () => { status?: number; body: string; delayMs?: number }>()
let index: DiscoveryIndex
let token: Address
let creator: Address

function card(
  id: string,
  version: string,
  capabilities: string[],
  input: z.ZodType,
  output: z.ZodType,
): Card {
  return defineModel({
    id,
    version,
    description: `${id} for tests`,
    capabilities,
    input,
    output,
    terms: { pricePerCall: 1_000n, payees: [{ address: creator, shareBps: 10_000 }], royaltyBps: 0 },
    run: async () => ({}),
  }).cardFor({ endpoint: `${base}/models/${id}/invoke` })
}

function serve(path: string, c: unknown) {
  routes.set(path, () => ({ body: JSON.stringify(c) }))
  return `${base}${path}`
}

async function publish(c: Card, uri: string, price: bigint, cardHash = hashCard(c)) {
  return publishModel(devnet.client(1), {
    cardURI: uri,
    cardHash,
    terms: { token, pricePerCall: price },
    payees: [{ address: creator, shareBps: 10_000 }],
    royaltyBps: 0,
  })
}

beforeAll(async () => {
  devnet = await startDevnet({ accounts: 3 })
  token = devnet.addresses.stablecoin
  creator = devnet.accounts[1]?.address as Address
  server = createServer((req, res) => {
    const route = routes.get(req.url ?? '')
    if (!route) {
      res.writeHead(404).end()
      return
    }
    const r = route()
    setTimeout(() => {
      if (!res.destroyed) res.writeHead(r.status ?? 200, { 'content-type': 'application/json' }).end(r.body)
    }, r.delayMs ?? 0)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  index?.stop()
  server?.closeAllConnections()
  await new Promise((r) => server?.close(r))
  await devnet?.stop()
})

const text = z.object({ text: z.string() })
const sentimentOut = z.object({ label: z.enum(['positive', 'negative', 'neutral']), compound: z.number() })

describe('the discovery index', () => {
  test('replays the registry, verifies cards, refuses bad ones, searches and stays live', async () => {
    const good1 = card('acme/sentiment', '1.0.0', ['text.sentiment'], text, sentimentOut)
    const good2 = card('acme/sentiment', '1.2.0', ['text.sentiment'], text, sentimentOut)
    const cheap = card('zeta/sentiment', '2.0.0', ['text.sentiment'], text, sentimentOut)
    const ner = card(
      'acme/entities',
      '1.0.0',
      ['text.entities'],
      text,
      z.object({ entities: z.array(z.string()) }),
    )
    const tampered = card('evil/sentiment', '1.0.0', ['text.sentiment'], text, sentimentOut)
    const big = card('big/sentiment', '1.0.0', ['text.sentiment'], text, sentimentOut)
    const slow = card('slow/sentiment', '1.0.0', ['text.sentiment'], text, sentimentOut)

    const m1 = await publish(good1, serve('/c/1', good1), 3_000n)
    const m2 = await publish(good2, serve('/c/2', good2), 3_000n)
    const m3 = await publish(cheap, serve('/c/3', cheap), 1_000n)
    const m4 = await publish(ner, serve('/c/4', ner), 2_000n)
    // the served card differs from the hashed one
    const m5 = await publish(
      tampered,
      serve('/c/5', { ...tampered, description: 'changed after publishing' }),
      10n,
    )
    routes.set('/c/6', () => ({ body: JSON.stringify({ ...big, description: 'x'.repeat(300_000) }) }))
    const m6 = await publish(big, `${base}/c/6`, 10n)
    routes.set('/c/7', () => ({ body: JSON.stringify(slow), delayMs: 2_000 }))
    const m7 = await publish(slow, `${base}/c/7`, 10n)
    const m8 = await publish(good1, 'http://cards.example.org/c/8', 10n)

    index = createDiscoveryIndex({ client: devnet.client(2), fetchTimeoutMs: 500, pollIntervalMs: 100_000 })
    const started = Date.now()
    await index.start()
    expect(Date.now() - started).toBeLessThan(1_900)

    expect(index.get(m1.assetId)?.card?.version).toBe('1.0.0')
    expect(index.get(m5.assetId)?.cardError).toMatch(/does not match the on-chain hash/)
    expect(index.get(m6.assetId)?.cardError).toMatch(/larger than/)
    expect(index.get(m7.assetId)?.cardError).toMatch(/timeout|aborted/i)
    expect(index.get(m8.assetId)?.cardError).toMatch(/not on the allowlist/)
    expect(index.get(m8.assetId)?.card).toBeUndefined()

    // only verified cards are found; cheapest first among equals
    expect(index.search({ capability: 'text.sentiment' }).map((l) => l.assetId)).toEqual([
      m3.assetId,
      m1.assetId,
      m2.assetId,
    ])
    expect(
      index.search({ capability: 'text.sentiment', maxPricePerCall: 2_000n }).map((l) => l.assetId),
    ).toEqual([m3.assetId])
    expect(index.search({ text: 'entities' }).map((l) => l.assetId)).toEqual([m4.assetId])
    // schema compatibility: a caller that sends a number cannot use a model that wants text
    expect(
      index.search({
        input: { type: 'object', properties: { text: { type: 'number' } }, required: ['text'] },
      }),
    ).toEqual([])
    // a caller that needs { label } gets the sentiment models, not the entity model
    const needsLabel = {
      type: 'object',
      properties: { label: { type: 'string' } },
      required: ['label'],
    }
    expect(
      index
        .search({ output: needsLabel })
        .map((l) => l.assetId)
        .sort(),
    ).toEqual([m1.assetId, m2.assetId, m3.assetId].sort())

    // resolve: the highest version in range; by capability, the cheapest
    expect((await index.resolve({ id: 'acme/sentiment', range: '^1.0.0' }))?.assetId).toBe(m2.assetId)
    expect((await index.resolve({ id: 'acme/sentiment', range: '~1.0.0' }))?.assetId).toBe(m1.assetId)
    expect((await index.resolve({ capability: 'text.sentiment' }))?.assetId).toBe(m3.assetId)
    expect(await index.resolve({ id: 'evil/sentiment', range: '*' })).toBeUndefined()

    // quality from receipts: a failing model drops below one that works
    for (let i = 0; i < 4; i++) index.recordCall(m3.assetId, { ok: i === 0, latencyMs: 10 })
    for (let i = 0; i < 3; i++) index.recordCall(m1.assetId, { ok: true, latencyMs: 30 + i })
    expect(index.get(m1.assetId)?.quality).toEqual({
      calls: 3,
      successes: 3,
      successRate: 1,
      p50LatencyMs: 31,
    })
    expect(index.get(m3.assetId)?.quality.successRate).toBe(0.25)
    expect(index.search({ capability: 'text.sentiment' })[0]?.assetId).toBe(m1.assetId)
    expect(
      index.search({ capability: 'text.sentiment', minSuccessRate: 0.9 }).map((l) => l.assetId),
    ).not.toContain(m3.assetId)

    // live: a new listing, a price change and a new card version are picked up by sync()
    const later = card('acme/summary', '1.0.0', ['text.summarize'], text, z.object({ summary: z.string() }))
    const m9 = await publish(later, serve('/c/9', later), 4_000n)
    await updateModel(devnet.client(1), {
      assetId: m1.assetId,
      terms: { terms: { token, pricePerCall: 500n }, payees: [{ address: creator, shareBps: 10_000 }] },
    })
    const v2 = card('acme/sentiment', '1.1.0', ['text.sentiment', 'text.polarity'], text, sentimentOut)
    await updateModel(devnet.client(1), {
      assetId: m1.assetId,
      card: { uri: serve('/c/1b', v2), hash: hashCard(v2) },
    })
    await index.sync()
    expect(index.get(m9.assetId)?.card?.id).toBe('acme/summary')
    expect(index.get(m1.assetId)?.terms).toMatchObject({ version: 2, pricePerCall: 500n })
    expect(index.get(m1.assetId)?.card?.version).toBe('1.1.0')
    expect(index.search({ capability: 'text.polarity' }).map((l) => l.assetId)).toEqual([m1.assetId])
  })
})

import type { Address } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { z } from 'zod'
import { readContract } from '../../src/chain/client.js'
import { modelRegistryAbi } from '../../src/chain/generated/ModelRegistry.js'
import { type Devnet, startDevnet } from '../../src/chain/startDevnet.js'
import { hashCard } from '../../src/market/card.js'
import { getModel } from '../../src/market/getModel.js'
import { defineModel } from '../../src/models/defineModel.js'
import { PublishError, publish } from '../../src/models/publish.js'

let devnet: Devnet
beforeAll(async () => {
  devnet = await startDevnet({ accounts: 3 })
})
afterAll(async () => {
  await devnet?.stop()
})

const define = (id: string, parents: string[], payee: Address) =>
  defineModel({
    id,
    version: '1.0.0',
    description: id,
    capabilities: ['text.echo'],
    input: z.object({ text: z.string() }),
    output: z.object({ text: z.string() }),
    terms: { pricePerCall: 1_000n, payees: [{ address: payee, shareBps: 10_000 }], royaltyBps: 700 },
    lineage: { parents },
    run: async (x) => x,
  })

describe('publish(definition)', () => {
  test('registers the card with its endpoint, resolves parents and approves the provider', async () => {
    const creator = devnet.client(1)
    const payee = devnet.accounts[1]?.address as Address
    const provider = devnet.accounts[2]?.address as Address
    const base = define('acme/base', [], payee)
    const child = define('acme/child', ['acme/base'], payee)
    const b = await publish(creator, base, {
      cardURI: 'http://127.0.0.1:1/b.json',
      endpoint: 'http://127.0.0.1:1/b',
    })
    const c = await publish(creator, child, {
      cardURI: 'http://127.0.0.1:1/c.json',
      endpoint: 'http://127.0.0.1:1/c',
      parents: { 'acme/base': b.assetId },
      operator: provider,
    })
    expect(c.card.endpoint).toBe('http://127.0.0.1:1/c')
    const listed = await getModel(creator, { assetId: c.assetId })
    expect(listed.cardHash).toBe(hashCard(c.card))
    expect(listed.terms.token).toBe(devnet.addresses.stablecoin)
    expect(listed.ancestors).toEqual([{ assetId: b.assetId, bps: 700 }])
    expect(
      await readContract<Address>(creator, {
        address: devnet.addresses.registry,
        abi: modelRegistryAbi,
        functionName: 'getApproved',
        args: [c.assetId],
      }),
    ).toBe(provider)
  })

  test('refuses, before any transaction, a model without endpoint or with an unknown parent', async () => {
    const creator = devnet.client(1)
    const payee = devnet.accounts[1]?.address as Address
    const before = await creator.publicClient.getBlockNumber()
    await expect(
      publish(creator, define('acme/x', [], payee), { cardURI: 'http://127.0.0.1/x' }),
    ).rejects.toThrow(/publish it with the endpoint/)
    const orphan = publish(creator, define('acme/y', ['acme/nowhere'], payee), {
      cardURI: 'http://127.0.0.1/y',
      endpoint: 'http://127.0.0.1/y',
    })
    await expect(orphan).rejects.toBeInstanceOf(PublishError)
    await expect(orphan).rejects.toThrow(/names parent acme\/nowhere, whose asset id is unknown/)
    expect(await creator.publicClient.getBlockNumber()).toBe(before)
  })
})

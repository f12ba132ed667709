import type { Address } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { SimulatedClock } from 'xstate'
import { z } from 'zod'
import { createStaticDirectory } from '../../../src/market/createStaticDirectory.js'
import type { ResolvedModel } from '../../../src/workflow/types.js'
import { createLocalCaller, createLocalSettler, flush, type Handler } from './local.js'

export const token = '0x00000000000000000000000000000000000000aa' as Address
export const Text = z.object({ text: z.string() })
export const Label = z.object({ label: z.enum(['positive', 'negative', 'neutral']), score: z.number() })
export const Count = z.object({ count: z.number().int() })

const js = (s: z.ZodType) => z.toJSONSchema(s)

/** A small marketplace: upper-casing, sentiment (two listings), word count, and a model that wants a number. */
export const listings: ResolvedModel[] = [
  {
    assetId: 1n,
    id: 'acme/upper',
    version: '1.2.0',
    capabilities: ['upper'],
    inputSchema: js(Text),
    outputSchema: js(Text),
    pricePerCall: 5n,
    token,
  },
  {
    assetId: 2n,
    id: 'acme/upper',
    version: '1.4.1',
    capabilities: ['upper'],
    inputSchema: js(Text),
    outputSchema: js(Text),
    pricePerCall: 6n,
    token,
  },
  {
    assetId: 3n,
    id: 'acme/upper',
    version: '2.0.0',
    capabilities: ['upper'],
    inputSchema: js(Text),
    outputSchema: js(Text),
    pricePerCall: 9n,
    token,
  },
  {
    assetId: 4n,
    id: 'moods/sentiment',
    version: '1.0.0',
    capabilities: ['sentiment'],
    inputSchema: js(Text),
    outputSchema: js(Label),
    pricePerCall: 20n,
    token,
  },
  {
    assetId: 5n,
    id: 'cheap/sentiment',
    version: '0.3.0',
    capabilities: ['sentiment'],
    inputSchema: js(Text),
    outputSchema: js(Label),
    pricePerCall: 8n,
    token,
  },
  {
    assetId: 6n,
    id: 'acme/count',
    version: '1.0.0',
    capabilities: ['count'],
    inputSchema: js(Text),
    outputSchema: js(Count),
    pricePerCall: 3n,
    token,
  },
  {
    assetId: 7n,
    id: 'acme/square',
    version: '1.0.0',
    capabilities: ['math'],
    inputSchema: js(z.object({ x: z.number() })),
    outputSchema: js(z.object({ y: z.number() })),
    pricePerCall: 2n,
    token,
  },
]

export const handlers: Record<string, Handler> = {
  'acme/upper': (i) => ({ text: (i as { text: string }).text.toUpperCase() }),
  'moods/sentiment': (i) => ({
    label: /good|great/i.test((i as { text: string }).text) ? 'positive' : 'neutral',
    score: 0.9,
  }),
  'cheap/sentiment': (i) => ({
    label: /good|great/i.test((i as { text: string }).text) ? 'positive' : 'neutral',
    score: 0.5,
  }),
  'acme/count': (i) => ({ count: (i as { text: string }).text.split(/\s+/).filter(Boolean).length }),
  'acme/square': (i) => ({ y: (i as { x: number }).x ** 2 }),
}

/** Real in-process adapters with fresh keys: directory, caller (signs receipts), settler (verifies them). */
export function setup(extra: Record<string, Handler> = {}) {
  const provider = privateKeyToAccount(generatePrivateKey())
  const payer = privateKeyToAccount(generatePrivateKey()).address
  const directory = createStaticDirectory(listings)
  const local = createLocalCaller({ provider, payer, handlers: { ...handlers, ...extra } })
  const settled = createLocalSettler({ provider: provider.address })
  return {
    provider,
    payer,
    directory,
    caller: local.caller,
    stats: local.stats,
    settler: settled.settler,
    settlements: settled.settlements,
  }
}

/** Advances a simulated clock in steps, letting promise callbacks run between timers. */
export async function advance(clock: SimulatedClock, ms: number, step = 10): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    await flush(5)
    clock.increment(Math.min(step, ms - t))
  }
  await flush(5)
}

export { SimulatedClock }

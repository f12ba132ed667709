import { expectTypeOf, test } from 'vitest'
import * as z from 'zod'
import {
  type DefineModelParameters,
  defineModel,
  type ModelInput,
  type ModelOutput,
} from '../../src/models/defineModel.js'

const payees = [{ address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', shareBps: 10_000 }] as const

test('defineModel keeps the inferred input and output types', () => {
  const m = defineModel({
    id: 'acme/count',
    version: '1.0.0',
    description: 'Counts words.',
    capabilities: ['text.count'],
    input: z.object({ text: z.string(), min: z.number().default(0) }),
    output: z.object({ words: z.number() }),
    terms: { pricePerCall: 1n, payees: [...payees], royaltyBps: 0 },
    run: async ({ text, min }) => {
      // run sees the parsed input: defaults applied
      expectTypeOf(min).toEqualTypeOf<number>()
      return { words: Math.max(min, text.split(' ').length) }
    },
  })
  // callers may omit defaulted fields
  expectTypeOf(m.call).parameter(0).toEqualTypeOf<{ text: string; min?: number | undefined }>()
  expectTypeOf(m.call({ text: 'a b' })).resolves.toEqualTypeOf<{ words: number }>()
  expectTypeOf(m.handler).parameter(0).toEqualTypeOf<unknown>()
  expectTypeOf<ModelInput<typeof m>>().toEqualTypeOf<{ text: string; min?: number | undefined }>()
  expectTypeOf<ModelOutput<typeof m>>().toEqualTypeOf<{ words: number }>()
})

test('run must return what the output schema accepts', () => {
  const input = z.object({ text: z.string() })
  const output = z.object({ words: z.number() })
  const parameters: DefineModelParameters<typeof input, typeof output> = {
    id: 'acme/bad',
    version: '1.0.0',
    description: '',
    capabilities: [],
    input,
    output,
    terms: { pricePerCall: 1n, payees: [...payees], royaltyBps: 0 },
    // @ts-expect-error words must be a number
    run: async () => ({ words: 'three' }),
  }
  expectTypeOf(parameters.run).returns.resolves.toEqualTypeOf<{ words: number }>()
})

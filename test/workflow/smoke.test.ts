import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createStaticDirectory } from '../../src/workflow/createStaticDirectory.js'
import { fn } from '../../src/workflow/fn.js'
import { model } from '../../src/workflow/model.js'
import { run } from '../../src/workflow/run.js'
import { workflow } from '../../src/workflow/workflow.js'
import { createLocalCaller, createLocalSettler } from './support/local.js'

const token = '0x00000000000000000000000000000000000000aa'
describe('smoke', () => {
  it('runs', async () => {
    const provider = privateKeyToAccount(generatePrivateKey())
    const payer = privateKeyToAccount(generatePrivateKey()).address
    const TextIn = z.object({ text: z.string() })
    const dir = createStaticDirectory([
      {
        assetId: 1n,
        id: 'acme/upper',
        version: '1.2.0',
        capabilities: ['upper'],
        inputSchema: z.toJSONSchema(TextIn),
        outputSchema: z.toJSONSchema(TextIn),
        pricePerCall: 5n,
        token,
      },
    ])
    const { caller, stats } = createLocalCaller({
      provider,
      payer,
      handlers: { 'acme/upper': (i) => ({ text: (i as { text: string }).text.toUpperCase() }) },
    })
    const { settler, settlements } = createLocalSettler({ provider: provider.address })
    const wf = workflow({ id: 'w', input: z.object({ s: z.string(), list: z.array(z.string()) }) })
      .step('up', model('acme/upper@^1', { input: TextIn, output: TextIn }), ($) => ({ text: $.input.s }))
      .step(
        'len',
        fn((x: { text: string }) => ({ n: x.text.length })),
      )
      .parallel('p', (b) => ({
        a: b.step(fn((x: { n: number }) => x.n * 2)),
        c: b.flow((f) =>
          f.step(
            'q',
            fn((x: { text: string }) => `${x.text}!`),
            ($) => ({ text: $.steps.up.text }),
          ),
        ),
      }))
      .map(
        'm',
        ($) => $.input.list,
        (b) => b.step(model('acme/upper@^1', { input: TextIn, output: TextIn }), ($) => ({ text: $.item })),
        { concurrency: 2 },
      )
      .branch('br', (b) => [
        b.when(($) => $.steps.len.n > 2, b.step(fn(() => 'big'))),
        b.otherwise(b.step(fn(() => 'small'))),
      ])
      .output(($) => ({ up: $.steps.up.text, p: $.steps.p, m: $.steps.m, br: $.steps.br }))
    const events: string[] = []
    const r = await run(
      wf,
      { s: 'hello', list: ['a', 'b'] },
      { directory: dir, caller, settler, budget: 100n, onEvent: (e) => events.push(e.type) },
    )
    expect(r.status).toBe('succeeded')
    if (r.status !== 'succeeded') return
    expect(r.output).toEqual({
      up: 'HELLO',
      p: { a: 10, c: 'HELLO!' },
      m: [{ text: 'A' }, { text: 'B' }],
      br: 'big',
    })
    expect(r.receipt.entries.length).toBe(3)
    expect(stats.charges).toBe(3)
    expect(settlements.length).toBe(1)
    console.log(events.join(' '))
  })
})

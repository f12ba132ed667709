import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { WorkflowDefinitionError } from '../../src/workflow/errors.js'
import type { RunEvent } from '../../src/workflow/events.js'
import { fn } from '../../src/workflow/fn.js'
import { model } from '../../src/workflow/model.js'
import { run } from '../../src/workflow/run.js'
import { workflow } from '../../src/workflow/workflow.js'
import { Count, Label, setup, Text } from './support/fixtures.js'

const upper = model('acme/upper@^1.2', { input: Text, output: Text })
const count = model('acme/count@1', { input: Text, output: Count })
const sentiment = model({ capability: 'sentiment', maxPricePerCall: 10n }, { input: Text, output: Label })

const succeeded = <O>(r: Awaited<ReturnType<typeof run<z.ZodType, O>>>) => {
  if (r.status !== 'succeeded') throw new Error(`expected success, got ${r.status}`)
  return r
}

describe('step kinds', () => {
  it('sequence of local functions: each receives the previous output by default', async () => {
    const wf = workflow({ id: 'seq', input: z.object({ n: z.number() }) })
      .step(
        'double',
        fn((x: { n: number }) => ({ n: x.n * 2 })),
      )
      .step(
        'inc',
        fn(async (x: { n: number }) => ({ n: x.n + 1 })),
      )
      .step(
        'str',
        fn((x: { n: number }) => `n=${x.n}`),
      )
      .build()
    const r = succeeded(await run(wf, { n: 5 }))
    expect(r.output).toBe('n=11')
    expect(r.receipt.entries).toEqual([])
    expect(r.receipt.settlement).toBeUndefined()
  })

  it('marketplace model by id@range resolves the highest matching version and pays it once', async () => {
    const a = setup()
    const wf = workflow({ id: 'm', input: z.object({ s: z.string() }) })
      .step('up', upper, ($) => ({ text: $.input.s }))
      .build()
    const r = succeeded(await run(wf, { s: 'hi' }, a))
    expect(r.output).toEqual({ text: 'HI' })
    expect(r.receipt.entries).toHaveLength(1)
    expect(r.receipt.entries[0]).toMatchObject({
      modelId: 'acme/upper',
      modelVersion: '1.4.1',
      assetId: 2n,
      amount: 6n,
      stepId: 'up',
      item: 0,
    })
    expect(a.stats.charges).toBe(1)
    expect(a.settlements).toHaveLength(1)
    expect(a.settlements[0]?.receiptRoot).toBe(r.receipt.root)
    expect(r.receipt.settlement?.txHash).toMatch(/^0x[0-9a-f]{64}$/)
  })

  it('capability query with a price cap picks the cheapest model under the cap', async () => {
    const a = setup()
    const wf = workflow({ id: 'cap', input: Text }).step('mood', sentiment).build()
    const r = succeeded(await run(wf, { text: 'a good day' }, a))
    expect(r.output).toEqual({ label: 'positive', score: 0.5 })
    expect(r.receipt.entries[0]?.modelId).toBe('cheap/sentiment')
  })

  it('mappings select from the input and from any earlier step, nested and as constants', async () => {
    const a = setup()
    const wf = workflow({
      id: 'map',
      input: z.object({ doc: z.object({ title: z.string() }), tag: z.string() }),
    })
      .step('up', upper, ($) => ({ text: $.input.doc.title }))
      .step('words', count, ($) => ({ text: $.steps.up.text }))
      .step(
        'pack',
        fn((x: { title: string; n: number; tag: string; fixed: string; pair: (number | string)[] }) => x),
        ($) => ({
          title: $.steps.up.text,
          n: $.steps.words.count,
          tag: $.input.tag,
          fixed: 'v1',
          pair: [$.steps.words.count, $.input.tag],
        }),
      )
      .output(($) => ({ packed: $.steps.pack, original: $.input.doc.title }))
    const r = succeeded(await run(wf, { doc: { title: 'two words' }, tag: 't' }, a))
    expect(r.output).toEqual({
      packed: { title: 'TWO WORDS', n: 2, tag: 't', fixed: 'v1', pair: [2, 't'] },
      original: 'two words',
    })
  })

  it('parallel runs branches concurrently and joins them by name; sub-flows see outer and own steps', async () => {
    const a = setup()
    let inFlight = 0
    let maxInFlight = 0
    const slow = (label: string) =>
      fn(async (x: { text: string }) => {
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        await new Promise((r) => setTimeout(r, 5))
        inFlight--
        return `${label}:${x.text}`
      })
    const wf = workflow({ id: 'par', input: Text })
      .step('up', upper)
      .parallel('fan', (b) => ({
        left: b.step(slow('L')),
        right: b.step(slow('R')),
        deep: b.flow((f) =>
          f
            .step('w', count, ($) => ({ text: $.steps.up.text }))
            .step(
              'twice',
              fn((x: { count: number }) => x.count * 2),
            ),
        ),
      }))
      .step(
        'after',
        fn((x: { left: string; right: string; deep: number }) => `${x.left}|${x.right}|${x.deep}`),
      )
      .build()
    const r = succeeded(await run(wf, { text: 'x y' }, a))
    expect(r.output).toBe('L:X Y|R:X Y|4')
    expect(maxInFlight).toBe(2)
    expect(r.receipt.entries.map((e) => e.stepId).sort()).toEqual(['fan.deep.w', 'up'])
  })

  it('branch runs the first case whose guard holds, else otherwise; without otherwise the output is undefined', async () => {
    const wf = workflow({ id: 'br', input: z.object({ n: z.number() }) })
      .step(
        'n',
        fn((x: { n: number }) => x.n),
      )
      .branch('size', (b) => [
        b.when(($) => $.steps.n > 100, b.step(fn(() => 'huge' as const))),
        b.when(($) => $.steps.n > 10, b.step(fn(() => 'big' as const))),
        b.otherwise(
          b.flow((f) =>
            f
              .step(
                'small',
                fn(() => 'small' as const),
              )
              .step(
                'loud',
                fn((s: string) => s.toUpperCase()),
              ),
          ),
        ),
      ])
      .branch('maybe', (b) => [b.when(($) => $.input.n % 2 === 0, b.step(fn(() => 'even')))])
      .output(($) => ({ size: $.steps.size, maybe: $.steps.maybe }))
    expect(succeeded(await run(wf, { n: 500 })).output).toEqual({ size: 'huge', maybe: 'even' })
    expect(succeeded(await run(wf, { n: 50 })).output).toEqual({ size: 'big', maybe: 'even' })
    expect(succeeded(await run(wf, { n: 3 })).output).toEqual({ size: 'SMALL', maybe: undefined })
  })

  it('map runs the body per item with the concurrency limit, keeps order, and pays once per item', async () => {
    let inFlight = 0
    let maxInFlight = 0
    const a = setup({
      'acme/upper': async (i) => {
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        await new Promise((r) => setTimeout(r, 3))
        inFlight--
        return { text: (i as { text: string }).text.toUpperCase() }
      },
    })
    const wf = workflow({ id: 'map', input: z.object({ items: z.array(z.string()), suffix: z.string() }) })
      .map(
        'each',
        ($) => $.input.items,
        (b) =>
          b.flow((f) =>
            f
              .step('up', upper, ($) => ({ text: $.item }))
              .step(
                'tag',
                fn((x: { t: string; i: number; s: string }) => `${x.i}:${x.t}${x.s}`),
                ($) => ({
                  t: $.steps.up.text,
                  i: $.index,
                  s: $.input.suffix,
                }),
              ),
          ),
        { concurrency: 2, maxItems: 10 },
      )
      .build()
    const events: RunEvent[] = []
    const r = succeeded(
      await run(
        wf,
        { items: ['a', 'b', 'c', 'd', 'e'], suffix: '!' },
        { ...a, onEvent: (e) => events.push(e) },
      ),
    )
    expect(r.output).toEqual(['0:A!', '1:B!', '2:C!', '3:D!', '4:E!'])
    expect(maxInFlight).toBe(2)
    expect(r.receipt.entries).toHaveLength(5)
    expect(new Set(r.receipt.entries.map((e) => e.idempotencyKey)).size).toBe(5)
    expect(r.receipt.entries.map((e) => `${e.stepId}#${e.item}`).sort()).toEqual([
      'each[0].up#0',
      'each[1].up#1',
      'each[2].up#2',
      'each[3].up#3',
      'each[4].up#4',
    ])
    expect(events.filter((e) => e.type === 'payment')).toHaveLength(5)
  })

  it('map over an empty list returns []', async () => {
    const wf = workflow({ id: 'empty', input: z.object({ xs: z.array(z.number()) }) })
      .map(
        'sq',
        ($) => $.input.xs,
        (b) => b.step(fn((x: number) => x * x)),
      )
      .build()
    expect(succeeded(await run(wf, { xs: [] })).output).toEqual([])
    expect(succeeded(await run(wf, { xs: [1, 2, 3] })).output).toEqual([1, 4, 9])
  })

  it('wait suspends the run and resume delivers the parsed payload', async () => {
    const wf = workflow({ id: 'wait', input: z.object({ amount: z.number() }) })
      .step(
        'quote',
        fn((x: { amount: number }) => ({ total: x.amount * 2 })),
      )
      .wait('approval', z.object({ approved: z.boolean(), by: z.string().trim() }))
      .output(($) => ({ total: $.steps.quote.total, ok: $.steps.approval.approved, by: $.steps.approval.by }))
    const first = await run(wf, { amount: 21 })
    expect(first.status).toBe('suspended')
    if (first.status !== 'suspended') return
    expect(first.waiting).toEqual(['approval'])
    const done = succeeded(await first.resume('approval', { approved: true, by: '  ops  ' }))
    expect(done.output).toEqual({ total: 42, ok: true, by: 'ops' })
  })
})

describe('definition errors', () => {
  it('refuses duplicate step ids, bad ids, computing mappings and waits inside maps', () => {
    const base = workflow({ id: 'bad', input: z.object({ s: z.string(), xs: z.array(z.string()) }) })
    const f = fn((x: string) => x)
    expect(() => base.step('a', f, ($) => $.input.s).step('a', f, ($) => $.input.s)).toThrow(
      WorkflowDefinitionError,
    )
    expect(() => base.step('a.b', f, ($) => $.input.s)).toThrow(/not allowed/)
    expect(() => base.step('a', f, ($) => `${$.input.s}!`)).toThrow(/mappings only select/)
    expect(() =>
      base.step(
        'a',
        fn((x: { s: string }) => x),
        ($) => ({ ...$.input }),
      ),
    ).toThrow(/spreads/)
    expect(() =>
      base.map(
        'm',
        ($) => $.input.xs,
        (b) => b.wait(z.string()),
      ),
    ).toThrow(/wait cannot be inside a map/)
    expect(() => base.build()).toThrow(/no steps/)
  })
})

describe('local function failures', () => {
  it('a throwing function (sync or async) fails the run after one attempt with the original error as the cause', async () => {
    const { RunFailedError, StepFailedError } = await import('../../src/workflow/errors.js')
    for (const body of [
      () => {
        throw new Error('sync boom')
      },
      async () => {
        throw new Error('async boom')
      },
    ]) {
      const wf = workflow({ id: 'boom', input: z.object({}) })
        .step('boom', fn(body))
        .build()
      const err = await run(wf, {}).catch((e) => e)
      expect(err).toBeInstanceOf(RunFailedError)
      const step = err.walk((e: unknown) => e instanceof StepFailedError)
      expect(step).toMatchObject({ stepId: 'boom', attempts: 1 })
      expect((err.walk() as Error).message).toMatch(/boom$/)
    }
  })
})

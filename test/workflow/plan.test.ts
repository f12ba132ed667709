import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createStaticDirectory } from '../../src/market/createStaticDirectory.js'
import { dryRun } from '../../src/workflow/dryRun.js'
import {
  MissingAdapterError,
  MissingPathError,
  OverBudgetError,
  PolicyViolationError,
  SchemaMismatchError,
  UnboundedQuoteError,
  UnknownModelError,
} from '../../src/workflow/errors.js'
import { fn } from '../../src/workflow/fn.js'
import { model } from '../../src/workflow/model.js'
import { formatPlan, plan } from '../../src/workflow/plan.js'
import { run } from '../../src/workflow/run.js'
import { workflow } from '../../src/workflow/workflow.js'
import { Count, Label, setup, Text } from './support/fixtures.js'

const upper = model('acme/upper@^1.2', { input: Text, output: Text })
const count = model('acme/count@^1', { input: Text, output: Count })
const square = model('acme/square@^1', {
  input: z.object({ x: z.number() }),
  output: z.object({ y: z.number() }),
})

describe('planner', () => {
  it('quotes per model and per run: parallel adds, branch takes the dearer case, map multiplies by its bound', async () => {
    const a = setup()
    const wf = workflow({ id: 'q', input: z.object({ s: z.string(), xs: z.array(z.string()) }) })
      .step('up', upper, ($) => ({ text: $.input.s }))
      .parallel('p', (b) => ({ c1: b.step(count), c2: b.step(count) }))
      .branch('br', (b) => [
        b.when(
          ($) => $.steps.p.c1.count > 1,
          b.step(upper, ($) => ({ text: $.input.s })),
        ),
        b.otherwise(b.step(count, ($) => ({ text: $.input.s }))),
      ])
      .map(
        'each',
        ($) => $.input.xs,
        (b) => b.step(count, ($) => ({ text: $.item })),
        { maxItems: 4 },
      )
      .build()
    const p = await plan(wf, { directory: a.directory, budget: 1000n })
    // up 6 + p 3+3 + max(up 6, count 3) + each 4×3
    expect(p.quote.total).toBe(6n + 6n + 6n + 12n)
    const byId = Object.fromEntries(p.quote.perModel.map((q) => [q.id, q]))
    expect(byId['acme/upper']).toMatchObject({ maxCalls: 2n, maxCost: 12n, version: '1.4.1' })
    expect(byId['acme/count']).toMatchObject({ maxCalls: 7n, maxCost: 21n })
    expect(p.models.get('each[]')?.maxCalls).toBe(4n)
    const text = formatPlan(p)
    expect(text).toContain('acme/upper@1.4.1 (asset 2) 6/call')
    expect(text).toContain('quote: at most 30 (budget 1000)')
    expect(text).toContain('each[]  [model] acme/count@^1 → acme/count@1.0.0 (asset 6) 3/call × ≤4 = ≤12')
  })

  it('bounds a map over the workflow input by the input length when maxItems is not set', async () => {
    const a = setup()
    const wf = workflow({ id: 'b', input: z.object({ xs: z.array(z.string()) }) })
      .map(
        'each',
        ($) => $.input.xs,
        (b) => b.step(count, ($) => ({ text: $.item })),
      )
      .build()
    expect((await plan(wf, { directory: a.directory, input: { xs: ['a', 'b', 'c'] } })).quote.total).toBe(9n)
    await expect(plan(wf, { directory: a.directory })).rejects.toBeInstanceOf(UnboundedQuoteError)
  })

  it('refuses an unknown model (no id, no version in range, no capability under the cap) before paying', async () => {
    const a = setup()
    const mk = (ref: Parameters<typeof model>[0]) =>
      workflow({ id: 'u', input: Text })
        .step('m', model(ref, { input: Text, output: Text }))
        .build()
    for (const ref of [
      'nobody/nothing@^1',
      'acme/upper@^3',
      { capability: 'sentiment', maxPricePerCall: 5n },
    ]) {
      const wf = mk(ref)
      await expect(plan(wf, { directory: a.directory })).rejects.toBeInstanceOf(UnknownModelError)
      await expect(run(wf, { text: 'x' }, a)).rejects.toBeInstanceOf(UnknownModelError)
    }
    expect(a.stats.calls).toBe(0)
  })

  it('refuses a type mismatch between the mapped input and the model input schema, listing where', async () => {
    const a = setup()
    // the TS types are bypassed on purpose (a model whose card changed under a stale declaration)
    const stale = model('acme/square@^1', {
      input: z.object({ x: z.string() }),
      output: z.object({ y: z.number() }),
    })
    const wf = workflow({ id: 'mm', input: z.object({ s: z.string() }) })
      .step('sq', stale, ($) => ({ x: $.input.s }))
      .build()
    const err = await plan(wf, { directory: a.directory }).catch((e) => e)
    expect(err).toBeInstanceOf(SchemaMismatchError)
    expect(err.issues).toEqual([
      expect.objectContaining({
        stepId: 'sq',
        path: '/x',
        severity: 'error',
        message: expect.stringContaining('needs number'),
      }),
    ])
    expect(err.message).toContain('- sq at /x')
    await expect(run(wf, { s: 'x' }, a)).rejects.toBeInstanceOf(SchemaMismatchError)
    expect(a.stats.calls).toBe(0)
  })

  it('refuses when a required field may be missing, or when the model output does not fit the declared output', async () => {
    const a = setup()
    const wf1 = workflow({ id: 'opt', input: z.object({ s: z.string().optional() }) })
      .step('up', upper, ($) => ({ text: $.input.s as string }))
      .build()
    const e1 = await plan(wf1, { directory: a.directory }).catch((e) => e)
    expect(e1).toBeInstanceOf(SchemaMismatchError)
    expect(e1.issues[0]).toMatchObject({
      path: '/text',
      message: expect.stringContaining('optional in the source'),
    })
    const wrongOut = model('acme/count@^1', { input: Text, output: z.object({ count: z.string() }) })
    const wf2 = workflow({ id: 'out', input: Text }).step('c', wrongOut).build()
    const e2 = await plan(wf2, { directory: a.directory }).catch((e) => e)
    expect(e2).toBeInstanceOf(SchemaMismatchError)
    expect(e2.issues[0]).toMatchObject({ path: '(output)/count' })
  })

  it('refuses a mapping that reads a path its source does not produce', async () => {
    const a = setup()
    const wf = workflow({ id: 'path', input: z.object({ doc: z.object({ title: z.string() }) }) })
      .step('up', upper, ($) => ({ text: ($.input.doc as unknown as { body: string }).body }))
      .build()
    const err = await plan(wf, { directory: a.directory }).catch((e) => e)
    expect(err).toBeInstanceOf(MissingPathError)
    expect(err.issues[0]).toMatchObject({ stepId: 'up', path: '$.input/doc/body' })
    const wf2 = workflow({ id: 'path2', input: Text })
      .step('c', count)
      .step('up', upper, ($) => ({ text: ($.steps.c as unknown as { label: string }).label }))
      .build()
    const err2 = await plan(wf2, { directory: a.directory }).catch((e) => e)
    expect(err2).toBeInstanceOf(MissingPathError)
    expect(err2.issues[0].path).toBe('$.steps.c/label')
  })

  it('checks local functions that declare schemas, and only warns where a source has no schema', async () => {
    const a = setup()
    const typed = fn((x: { n: number }) => ({ text: String(x.n) }), {
      input: z.object({ n: z.number() }),
      output: Text,
    })
    const wfBad = workflow({ id: 'f', input: z.object({ s: z.string() }) })
      .step('t', typed, ($) => ({ n: $.input.s as unknown as number }))
      .build()
    await expect(plan(wfBad, { directory: a.directory })).rejects.toBeInstanceOf(SchemaMismatchError)
    const untyped = fn((x: { s: string }) => ({ text: x.s }))
    const wf = workflow({ id: 'w', input: z.object({ s: z.string() }) })
      .step('u', untyped)
      .step('up', upper, ($) => ({ text: $.steps.u.text }))
      .build()
    const p = await plan(wf, { directory: a.directory })
    expect(p.warnings).toEqual([
      expect.objectContaining({
        stepId: 'up',
        path: '/text',
        severity: 'warning',
        message: expect.stringContaining('unknown'),
      }),
    ])
    await expect(plan(wf, { directory: a.directory, strict: true })).rejects.toBeInstanceOf(
      SchemaMismatchError,
    )
  })

  it('refuses a quote above the budget with the per-model breakdown, and nothing is paid', async () => {
    const a = setup()
    const wf = workflow({ id: 'b', input: z.object({ x: z.number(), xs: z.array(z.string()) }) })
      .step('sq', square, ($) => ({ x: $.input.x }))
      .map(
        'each',
        ($) => $.input.xs,
        (b) => b.step(upper, ($) => ({ text: $.item })),
        { maxItems: 10 },
      )
      .build()
    const err = await run(wf, { x: 3, xs: ['a'] }, { ...a, budget: 50n }).catch((e) => e)
    expect(err).toBeInstanceOf(OverBudgetError)
    expect(err.quote).toBe(2n + 60n)
    expect(err.budget).toBe(50n)
    expect(err.message).toContain('acme/upper@1.4.1: up to 10 call(s) × 6 = 60')
    expect(a.stats.calls).toBe(0)
    expect(a.settlements).toHaveLength(0)
  })

  it('applies the policy price cap and allow-list', async () => {
    const a = setup()
    const wf = workflow({ id: 'pol', input: Text })
      .step('up', model('acme/upper@2', { input: Text, output: Text }))
      .build()
    await expect(run(wf, { text: 'x' }, { ...a, policy: { maxPricePerCall: 8n } })).rejects.toBeInstanceOf(
      PolicyViolationError,
    )
    await expect(
      run(wf, { text: 'x' }, { ...a, policy: { allowModel: (m) => m.id !== 'acme/upper' } }),
    ).rejects.toBeInstanceOf(PolicyViolationError)
    expect(a.stats.calls).toBe(0)
  })

  it('needs a caller and a settler for paid workflows', async () => {
    const a = setup()
    const wf = workflow({ id: 'ad', input: Text }).step('up', upper).build()
    await expect(run(wf, { text: 'x' }, { directory: a.directory })).rejects.toBeInstanceOf(
      MissingAdapterError,
    )
    await expect(run(wf, { text: 'x' }, { directory: a.directory, caller: a.caller })).rejects.toBeInstanceOf(
      MissingAdapterError,
    )
    const r = await run(wf, { text: 'x' }, { directory: a.directory, caller: a.caller, settle: false })
    expect(r.status === 'succeeded' && r.receipt.settlement).toBeUndefined()
  })

  it('formats a dry run of the plan without running anything', async () => {
    const a = setup()
    const wf = workflow({ id: 'dry', input: z.object({ s: z.string() }) })
      .step('up', upper, ($) => ({ text: $.input.s }))
      .parallel('p', (b) => ({
        mood: b.step(model({ capability: 'sentiment' }, { input: Text, output: Label })),
      }))
      .build()
    const text = formatPlan(await plan(wf, { directory: a.directory, budget: 100n }))
    expect(text.split('\n').slice(0, 7)).toEqual([
      expect.stringMatching(/^plan for workflow "dry" \(0x[0-9a-f]{8}…\)$/),
      '',
      '  up  [model] acme/upper@^1.2 → acme/upper@1.4.1 (asset 2) 6/call × ≤1 = ≤6',
      '      input: { text: $.input.s }',
      '  p  [parallel] mood',
      '    p.mood  [model] {capability=sentiment} → cheap/sentiment@0.3.0 (asset 5) 8/call × ≤1 = ≤8',
      '        input: $.steps.up',
    ])
    expect(text).toContain('quote: at most 14 (budget 100)')
    expect(a.stats.calls).toBe(0)
  })

  it('dryRun() parses the input, bounds maps by it, prints the plan and pays nothing', async () => {
    const a = setup()
    const wf = workflow({ id: 'dry2', input: z.object({ xs: z.array(z.string()) }) })
      .map(
        'each',
        ($) => $.input.xs,
        (b) => b.step(upper, ($) => ({ text: $.item })),
      )
      .build()
    const printed: string[] = []
    const { plan: p, text } = await dryRun(
      wf,
      { xs: ['a', 'b'] },
      { directory: a.directory, print: (t) => printed.push(t) },
    )
    expect(p.quote.total).toBe(12n)
    expect(printed).toEqual([text])
    expect(text).toContain('each[]  [model] acme/upper@^1.2 → acme/upper@1.4.1 (asset 2) 6/call × ≤2 = ≤12')
    await expect(dryRun(wf, { xs: 'nope' } as never, { print: false })).rejects.toThrow(
      /does not match its schema/,
    )
    expect(a.stats.calls).toBe(0)
  })
})

describe('formatPlan', () => {
  it('lists warnings, or only counts them', async () => {
    // the model asks for at least one character: a plain z.string() input cannot promise that
    const directory = createStaticDirectory([
      {
        assetId: 9n,
        id: 'acme/strict',
        version: '1.0.0',
        capabilities: ['strict'],
        inputSchema: z.toJSONSchema(z.object({ text: z.string().min(1) })),
        outputSchema: z.toJSONSchema(Text),
        pricePerCall: 1n,
        token: '0x00000000000000000000000000000000000000aa',
      },
    ])
    const wf = workflow({ id: 'w', input: z.object({ text: z.string() }) })
      .step('strict', model('acme/strict@^1', { input: Text, output: Text }), ($) => ({ text: $.input.text }))
      .output(($) => $.steps.strict)
    const p = await plan(wf, { directory, budget: 1_000n })
    expect(p.warnings.length).toBeGreaterThan(0)
    expect(formatPlan(p)).toMatch(/warnings \(checked at run time\):\n {2}- strict at \/text: .*minLength/)
    const counted = formatPlan(p, { warnings: 'count' })
    expect(counted).not.toMatch(/minLength/)
    expect(counted).toMatch(
      new RegExp(
        `\n${p.warnings.length} value constraints \\(length, pattern, bounds\\) are checked at run time`,
      ),
    )
  })
})

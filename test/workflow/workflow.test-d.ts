import { describe, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import { fn } from '../../src/workflow/fn.js'
import { model } from '../../src/workflow/model.js'
import type { RunResult } from '../../src/workflow/run.js'
import { run } from '../../src/workflow/run.js'
import {
  type Workflow,
  type WorkflowInput,
  type WorkflowOutput,
  workflow,
} from '../../src/workflow/workflow.js'

const Text = z.object({ text: z.string() })
const ocr = model('acme/ocr@^1', {
  input: z.object({ image: z.string() }),
  output: Text.extend({ confidence: z.number() }),
})
const mood = model(
  { capability: 'sentiment' },
  { input: Text, output: z.object({ label: z.enum(['pos', 'neg']) }) },
)
const Input = z.object({
  image: z.string(),
  pages: z.array(z.object({ png: z.string() })),
  lang: z.string().default('en'),
})

describe('workflow type inference', () => {
  it('infers every step from the input schema to the output', () => {
    const wf = workflow({ id: 'doc', input: Input })
      .step('ocr', ocr, ($) => {
        expectTypeOf($.input).toEqualTypeOf<{ image: string; pages: { png: string }[]; lang: string }>()
        return { image: $.input.image }
      })
      .step(
        'words',
        fn((x: { text: string }) => x.text.split(' ').length),
      )
      .parallel('analysis', (b) => ({
        mood: b.step(mood, ($) => ({ text: $.steps.ocr.text })),
        both: b.flow((f) =>
          f
            .step(
              'inner',
              fn((n: number) => ({ doubled: n * 2 })),
              ($) => $.steps.words,
            )
            .step(
              'again',
              fn((x: { doubled: number }) => String(x.doubled)),
            ),
        ),
      }))
      .branch('route', (b) => [
        b.when(($) => $.steps.analysis.mood.label === 'pos', b.step(fn(() => 1 as const))),
        b.otherwise(b.step(fn(() => 'neg' as const))),
      ])
      .branch('maybe', (b) => [b.when(($) => $.steps.words > 3, b.step(fn(() => true)))])
      .map(
        'pages',
        ($) => $.input.pages,
        (b) =>
          b.step(ocr, ($) => {
            expectTypeOf($.item).toEqualTypeOf<{ png: string }>()
            expectTypeOf($.index).toEqualTypeOf<number>()
            return { image: $.item.png }
          }),
        { concurrency: 2 },
      )
      .wait('approval', z.object({ ok: z.boolean(), note: z.string().optional() }))
      .output(($) => ({
        text: $.steps.ocr.text,
        confidence: $.steps.ocr.confidence,
        words: $.steps.words,
        mood: $.steps.analysis.mood.label,
        again: $.steps.analysis.both,
        route: $.steps.route,
        maybe: $.steps.maybe,
        pages: $.steps.pages,
        ok: $.steps.approval.ok,
      }))
    expectTypeOf(wf).toExtend<Workflow>()
    expectTypeOf<WorkflowOutput<typeof wf>>().toEqualTypeOf<{
      text: string
      confidence: number
      words: number
      mood: 'pos' | 'neg'
      again: string
      route: 1 | 'neg'
      maybe: boolean | undefined
      pages: { text: string; confidence: number }[]
      ok: boolean
    }>()
    // run() takes the schema's input type (defaults optional) and yields the output type
    expectTypeOf<WorkflowInput<typeof wf>>().toEqualTypeOf<{
      image: string
      pages: { png: string }[]
      lang?: string | undefined
    }>()
    expectTypeOf(run(wf, { image: 'x', pages: [] })).resolves.toEqualTypeOf<
      RunResult<WorkflowOutput<typeof wf>>
    >()
  })

  it('build() outputs the last step; a parallel outputs its branches by name', () => {
    const wf = workflow({ id: 'p', input: Text })
      .parallel('p', (b) => ({
        a: b.step(fn((x: { text: string }) => x.text.length)),
        w: b.wait(z.boolean()),
      }))
      .build()
    expectTypeOf<WorkflowOutput<typeof wf>>().toEqualTypeOf<{ a: number; w: boolean }>()
  })

  it('refuses steps whose input does not match what they receive', () => {
    const base = workflow({ id: 'bad', input: z.object({ n: z.number() }) })
    // @ts-expect-error the previous output ({ n: number }) is not ocr's input ({ image: string })
    base.step('ocr', ocr)
    // @ts-expect-error the mapping produces a number where a string is needed
    base.step('ocr', ocr, ($) => ({ image: $.input.n }))
    // @ts-expect-error mapping from a step that does not exist
    base.step('ocr', ocr, ($) => ({ image: $.steps.nothing.text }))
    const afterA = base.step(
      'a',
      fn((x: { n: number }) => x.n),
    )
    // @ts-expect-error a branch body's input must fit the enclosing last output (number, not string)
    afterA.parallel('p', (b) => ({ x: b.step(fn((s: string) => s)) }))
    const notAList = ($: { input: { n: number } }) => $.input.n
    // @ts-expect-error map list must be an array
    base.map('m', notAList, (b) => b.step(fn((x: number) => x)))
  })
})

import { describe, expect, it } from 'vitest'
import type { InspectionEvent } from 'xstate'
import { z } from 'zod'
import { compileWorkflow } from '../../src/workflow/compileWorkflow.js'
import { fn } from '../../src/workflow/fn.js'
import { run } from '../../src/workflow/run.js'
import { workflow } from '../../src/workflow/workflow.js'

const wf = workflow({ id: 'shape', input: z.object({ n: z.number(), xs: z.array(z.number()) }) })
  .step(
    'a',
    fn((x: { n: number }) => x.n + 1),
  )
  .parallel('p', (b) => ({ l: b.step(fn((n: number) => n * 2)), r: b.wait(z.object({ ok: z.boolean() })) }))
  .branch('br', (b) => [
    b.when(($) => $.steps.a > 1, b.step(fn(() => 'big'))),
    b.otherwise(b.step(fn(() => 'small'))),
  ])
  .map(
    'm',
    ($) => $.input.xs,
    (b) => b.step(fn((x: number) => -x)),
  )
  .build()

describe('compilation to XState', () => {
  it('compiles to a setup() machine: a state per step, a parallel state, guarded branch, invoked actors', () => {
    const machine = compileWorkflow(wf)
    expect(compileWorkflow(wf)).toBe(machine)
    expect(Object.keys(machine.implementations.actors).sort()).toEqual(['map', 'task'])
    const run_ = machine.root
    expect(Object.keys(run_.states)).toEqual(['s0', 's1', 's2', 's3', 'succeeded', 'failed'])
    expect(run_?.states.s1?.type).toBe('parallel')
    expect(Object.keys(run_?.states.s1?.states ?? {})).toEqual(['l', 'r'])
    expect(Object.keys(run_?.states.s2?.states ?? {})).toEqual(['choose', 'c0', 'c1', 'done'])
    expect(run_?.states.s0?.invoke.map((i) => i.src)).toEqual(['task'])
    expect(run_?.states.s3?.invoke.map((i) => i.src)).toEqual(['map'])
    expect([...(run_?.states.s1?.states.r?.states.run?.tags ?? [])]).toEqual([
      'tributary.wait',
      'tributary.wait:p.r',
    ])
  })

  it('runs under XState inspection and persists small snapshots with registered actor sources', async () => {
    const events: InspectionEvent[] = []
    const r = await run(wf, { n: 1, xs: [1, 2] }, { inspect: (e) => events.push(e) })
    expect(r.status).toBe('suspended')
    expect(events.some((e) => e.type === '@xstate.snapshot')).toBe(true)
    expect(events.filter((e) => e.type === '@xstate.actor').length).toBeGreaterThan(1)
    if (r.status !== 'suspended') return
    const stored = await r.store.load(r.runId)
    const machine = stored?.machine as { value: unknown; children: Record<string, unknown> }
    expect(machine.value).toEqual({ s1: { l: 'done', r: 'run' } })
    expect(machine.children).toEqual({})
    const done = await r.resume('p.r', { ok: true })
    expect(done.status === 'succeeded' && done.output).toEqual([-1, -2])
  })
})

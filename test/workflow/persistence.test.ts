import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createMemorySnapshotStore } from '../../src/workflow/createMemorySnapshotStore.js'
import { InvalidInputError, NotWaitingError, WorkflowMismatchError } from '../../src/workflow/errors.js'
import { fn } from '../../src/workflow/fn.js'
import { model } from '../../src/workflow/model.js'
import { receiptRoot } from '../../src/workflow/receipt.js'
import { resume, run } from '../../src/workflow/run.js'
import { hashSnapshotJson, snapshotJson } from '../../src/workflow/snapshotJson.js'
import type { PaidCaller } from '../../src/workflow/types.js'
import { workflow } from '../../src/workflow/workflow.js'
import { Count, setup, Text } from './support/fixtures.js'

const upper = model('acme/upper@^1.2', { input: Text, output: Text })
const count = model('acme/count@^1', { input: Text, output: Count })
const Approval = z.object({ ok: z.boolean(), note: z.string().default('') })

/** Counts calls per step and delegates to the real local caller. */
function counting(inner: PaidCaller) {
  const perStep = new Map<string, number>()
  const caller: PaidCaller = {
    call(m, input, o) {
      perStep.set(o.stepId, (perStep.get(o.stepId) ?? 0) + 1)
      return inner.call(m, input, o)
    },
  }
  return { caller, perStep }
}

describe('suspend and resume', () => {
  const reviewFlow = () =>
    workflow({ id: 'review', input: Text })
      .parallel('review', (b) => ({
        auto: b.flow((f) => f.step('up', upper).step('words', count, ($) => ({ text: $.steps.up.text }))),
        human: b.wait(Approval),
      }))
      .step('final', upper, ($) => ({ text: $.input.text }))
      .output(($) => ({
        words: $.steps.review.auto.count,
        ok: $.steps.review.human.ok,
        final: $.steps.final.text,
      }))

  it('suspends inside a parallel branch once the other branch is done, and resumes that branch', async () => {
    const a = setup()
    const c = counting(a.caller)
    const first = await run(reviewFlow(), { text: 'two words' }, { ...a, caller: c.caller })
    expect(first.status).toBe('suspended')
    if (first.status !== 'suspended') return
    expect(first.waiting).toEqual(['review.human'])
    expect(first.receipt.entries.map((e) => e.stepId)).toEqual(['review.auto.up', 'review.auto.words'])
    expect(first.receipt.settlement).toBeUndefined()
    expect(a.settlements).toHaveLength(0)

    await expect(first.resume('review.human', { ok: 'yes' })).rejects.toBeInstanceOf(InvalidInputError)
    await expect(first.resume('review.auto', { ok: true })).rejects.toBeInstanceOf(NotWaitingError)

    const done = await first.resume('review.human', { ok: true })
    expect(done.status).toBe('succeeded')
    if (done.status !== 'succeeded') return
    expect(done.output).toEqual({ words: 2, ok: true, final: 'TWO WORDS' })
    expect(Object.fromEntries(c.perStep)).toEqual({ 'review.auto.up': 1, 'review.auto.words': 1, final: 1 })
    expect(a.stats.charges).toBe(3)
    expect(done.receipt.entries).toHaveLength(3)
    expect(a.settlements).toHaveLength(1)
    expect(a.settlements[0]?.entries).toHaveLength(3)
    await expect(first.resume('review.human', { ok: true })).rejects.toBeInstanceOf(WorkflowMismatchError)
  })

  it('suspends on two waits in parallel and finishes only when both are resumed', async () => {
    const wf = workflow({ id: 'two', input: z.object({}) })
      .parallel('sign', (b) => ({ legal: b.wait(Approval), finance: b.wait(Approval) }))
      .output(($) => ({ legal: $.steps.sign.legal.ok, finance: $.steps.sign.finance.ok }))
    const r1 = await run(wf, {})
    if (r1.status !== 'suspended') throw new Error(r1.status)
    expect([...r1.waiting].sort()).toEqual(['sign.finance', 'sign.legal'])
    const r2 = await r1.resume('sign.legal', { ok: true })
    if (r2.status !== 'suspended') throw new Error(r2.status)
    expect(r2.waiting).toEqual(['sign.finance'])
    const r3 = await r2.resume('sign.finance', { ok: false })
    expect(r3.status === 'succeeded' && r3.output).toEqual({ legal: true, finance: false })
  })

  it('resumes from the store in another "process" (a freshly built workflow, fresh adapters)', async () => {
    const store = createMemorySnapshotStore()
    const a = setup()
    const first = await run(reviewFlow(), { text: 'one' }, { ...a, store })
    if (first.status !== 'suspended') throw new Error(first.status)
    const stored = await store.load(first.runId)
    expect(stored).toMatchObject({ status: 'suspended', waiting: ['review.human'], workflowId: 'review' })
    expect(stored?.ledger).toHaveLength(2)
    const c = counting(a.caller)
    const done = await resume(
      reviewFlow(),
      { runId: first.runId, step: 'review.human', payload: { ok: true } },
      { directory: a.directory, caller: c.caller, settler: a.settler, store },
    )
    expect(done.status === 'succeeded' && done.output).toEqual({ words: 1, ok: true, final: 'ONE' })
    expect(Object.fromEntries(c.perStep)).toEqual({ final: 1 })
    expect((await store.load(first.runId))?.status).toBe('succeeded')
    expect((await store.load(first.runId))?.settlement?.txHash).toMatch(/^0x/)
    const other = workflow({ id: 'review', input: Text }).step('x', upper).build()
    await expect(resume(other, { runId: first.runId }, { ...a, store })).rejects.toBeInstanceOf(
      WorkflowMismatchError,
    )
  })
})

describe('restore after a stop half-way', () => {
  const pipeline = (gate: { started: number; release?: () => void; onStart?: () => void }) =>
    workflow({ id: 'pipeline', input: Text })
      .step('s1', upper)
      .step('s2', count, ($) => ({ text: $.steps.s1.text }))
      .step(
        's3',
        fn(async (x: { count: number }) => {
          gate.started++
          gate.onStart?.()
          if (gate.started === 1) await new Promise<void>((r) => (gate.release = r))
          return { text: `n${x.count}` }
        }),
      )
      .step('s4', upper)
      .build()

  it('continues from the stored state without paying again for completed steps', async () => {
    const store = createMemorySnapshotStore()
    const a = setup()
    const c1 = counting(a.caller)
    const halt = new AbortController()
    const gate = { started: 0, onStart: () => halt.abort() } as { started: number; onStart?: () => void }
    const first = await run(
      pipeline(gate),
      { text: 'a b c' },
      { ...a, caller: c1.caller, store, halt: halt.signal },
    )
    expect(first.status).toBe('halted')
    const stored = await store.load(first.runId)
    expect(stored?.status).toBe('halted')
    expect(stored?.ledger.map((l) => l.entry.stepId)).toEqual(['s1', 's2'])
    expect(Object.fromEntries(c1.perStep)).toEqual({ s1: 1, s2: 1 })
    expect(a.settlements).toHaveLength(0)

    // another process: new workflow object, new caller wrapper, same provider and store
    const c2 = counting(a.caller)
    const gate2 = { started: 1 }
    const done = await resume(
      pipeline(gate2),
      { runId: first.runId },
      { directory: a.directory, caller: c2.caller, settler: a.settler, store },
    )
    expect(done.status === 'succeeded' && done.output).toEqual({ text: 'N3' })
    expect(Object.fromEntries(c2.perStep)).toEqual({ s4: 1 })
    expect(gate2.started).toBe(2)
    expect(a.stats.charges).toBe(3)
    expect(a.stats.replays).toBe(0)
    if (done.status !== 'succeeded') return
    expect(done.receipt.entries.map((e) => e.stepId)).toEqual(['s1', 's2', 's4'])
    expect(a.settlements).toHaveLength(1)
    expect(a.settlements[0]?.receiptRoot).toBe(receiptRoot(done.receipt.entries))
  })

  it('a run saved under another ledger scheme is refused, not paid again', async () => {
    const store = createMemorySnapshotStore()
    const a = setup()
    const halt = new AbortController()
    const gate = { started: 0, onStart: () => halt.abort() } as { started: number; onStart?: () => void }
    const first = await run(pipeline(gate), { text: 'a b c' }, { ...a, store, halt: halt.signal })
    const stored = await store.load(first.runId)
    if (!stored) throw new Error('not stored')
    expect(stored.ledgerScheme).toBe(2)
    // as an earlier version saved it: no scheme number
    const { version, ledgerScheme: _, ...older } = stored
    await store.save(older, { expectedVersion: version })
    const c2 = counting(a.caller)
    await expect(
      resume(
        pipeline({ started: 1 }),
        { runId: first.runId },
        { directory: a.directory, caller: c2.caller, settler: a.settler, store },
      ),
    ).rejects.toThrow(WorkflowMismatchError)
    expect(c2.perStep.size).toBe(0)
    expect(a.stats.charges).toBe(2)
  })

  it('a paid call that was in flight at the crash is re-sent with the same key and not charged twice', async () => {
    const store = createMemorySnapshotStore()
    const a = setup()
    const halt = new AbortController()
    let crashed = false
    // delivers the call to the provider (which charges), then "crashes" before the answer is recorded
    const crashing: PaidCaller = {
      async call(m, input, o) {
        const r = await a.caller.call(m, input, o)
        if (o.stepId === 's2' && !crashed) {
          crashed = true
          halt.abort()
          return new Promise(() => {})
        }
        return r
      },
    }
    const wf = workflow({ id: 'crash', input: Text })
      .step('s1', upper)
      .step('s2', count, ($) => ({ text: $.steps.s1.text }))
      .build()
    const first = await run(wf, { text: 'x y' }, { ...a, caller: crashing, store, halt: halt.signal })
    expect(first.status).toBe('halted')
    expect(a.stats.charges).toBe(2)
    expect((await store.load(first.runId))?.ledger).toHaveLength(1)
    const c = counting(a.caller)
    const done = await resume(wf, { runId: first.runId }, { ...a, caller: c.caller, store })
    expect(done.status === 'succeeded' && done.output).toEqual({ count: 2 })
    expect(Object.fromEntries(c.perStep)).toEqual({ s2: 1 })
    expect(a.stats.charges).toBe(2)
    expect(a.stats.replays).toBe(1)
    expect(done.status === 'succeeded' && done.receipt.entries.map((e) => e.stepId)).toEqual(['s1', 's2'])
  })

  it('snapshots hold references: large input and outputs live in blobs keyed by their hash', async () => {
    const store = createMemorySnapshotStore()
    const big = 'word '.repeat(20_000)
    const wf = workflow({ id: 'big', input: z.object({ doc: z.string() }) })
      .step(
        'copy',
        fn((x: { doc: string }) => ({ doc: x.doc, extra: x.doc.length })),
      )
      .wait('ok', Approval)
      .output(($) => ({ extra: $.steps.copy.extra, ok: $.steps.ok.ok }))
    const r = await run(wf, { doc: big }, { store })
    if (r.status !== 'suspended') throw new Error(r.status)
    const stored = await store.load(r.runId)
    const text = snapshotJson(stored)
    expect(text.length).toBeLessThan(2_000)
    expect(text).not.toContain('word word')
    const inputRef = (stored as unknown as { machine: { context: { input: { $blob: string } } } }).machine
      .context.input.$blob
    expect(inputRef).toBe(hashSnapshotJson({ doc: big }))
    expect(await store.getBlob(inputRef as `0x${string}`)).toBe(snapshotJson({ doc: big }))
    const done = await resume(wf, { runId: r.runId, step: 'ok', payload: { ok: true } }, { store })
    expect(done.status === 'succeeded' && done.output).toEqual({ extra: big.length, ok: true })
  })
})

describe('ownership', () => {
  it('stops without settling when another worker saved the run meanwhile (optimistic versions)', async () => {
    const { SnapshotConflictError } = await import('../../src/workflow/errors.js')
    const store = createMemorySnapshotStore()
    const a = setup()
    let release: (() => void) | undefined
    let started = false
    const wf = workflow({ id: 'owned', input: Text })
      .step('s1', upper)
      .step(
        's2',
        fn(async (x: { text: string }) => {
          started = true
          await new Promise<void>((r) => (release = r))
          return x
        }),
      )
      .step('s3', upper)
      .build()
    const p = run(wf, { text: 'x' }, { ...a, store }).catch((e) => e)
    while (!started) await new Promise((r) => setTimeout(r, 1))
    const [summary] = await store.list()
    const stored = await store.load(summary?.runId as `0x${string}`)
    if (!stored) throw new Error('not stored')
    const { version: _v, ...record } = stored
    await store.save(record) // another worker takes the run over
    release?.()
    const err = await p
    expect(err).toBeInstanceOf(SnapshotConflictError)
    expect(a.settlements).toHaveLength(0)
    // the other worker's save stands; the stopped run wrote nothing after it
    const after = await store.load(stored.runId)
    expect(after?.version).toBe(stored.version + 1)
    expect(after?.ledger).toHaveLength(1)
  })
})

import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  BudgetExceededError,
  InvalidInputError,
  InvalidModelOutputError,
  NonRetryableError,
  RetryAfterError,
  RunCancelledError,
  RunFailedError,
  StepFailedError,
  StepTimeoutError,
} from '../../src/workflow/errors.js'
import type { RunEvent } from '../../src/workflow/events.js'
import { fn } from '../../src/workflow/fn.js'
import { model } from '../../src/workflow/model.js'
import { plan } from '../../src/workflow/plan.js'
import { run } from '../../src/workflow/run.js'
import { streamRun } from '../../src/workflow/streamRun.js'
import type { PaidCaller } from '../../src/workflow/types.js'
import { workflow } from '../../src/workflow/workflow.js'
import { advance, SimulatedClock, setup, Text } from './support/fixtures.js'
import { flush } from './support/local.js'

const upper = model('acme/upper@^1.2', { input: Text, output: Text })

describe('retries', () => {
  it('retries with exponential backoff and jitter on the injected clock, then succeeds', async () => {
    const clock = new SimulatedClock()
    const times: number[] = []
    const flaky = fn(
      (x: { n: number }) => {
        times.push(clock.now())
        if (times.length < 3) throw new Error(`transient ${times.length}`)
        return x.n + 1
      },
      { retry: { maxAttempts: 4, initialDelayMs: 100, backoffFactor: 2, maxDelayMs: 10_000, jitter: 0.5 } },
    )
    const wf = workflow({ id: 'r', input: z.object({ n: z.number() }) })
      .step('flaky', flaky)
      .build()
    const events: RunEvent[] = []
    const p = run(wf, { n: 1 }, { clock, random: () => 0.5, onEvent: (e) => events.push(e) })
    await advance(clock, 400, 1)
    const r = await p
    expect(r.status === 'succeeded' && r.output).toBe(2)
    // base 100 then 200; jitter 0.5 with random 0.5 → 75% of each
    expect(times).toEqual([0, 75, 225])
    expect(
      events
        .filter((e) => e.type === 'step.retried')
        .map((e) => e.type === 'step.retried' && [e.attempt, e.delayMs]),
    ).toEqual([
      [1, 75],
      [2, 150],
    ])
    expect(
      events.filter((e) => e.type === 'step.started').map((e) => e.type === 'step.started' && e.attempt),
    ).toEqual([1, 2, 3])
  })

  it('caps the delay at maxDelayMs and gives up after maxAttempts with StepFailedError', async () => {
    const clock = new SimulatedClock()
    const times: number[] = []
    const always = fn(
      () => {
        times.push(clock.now())
        throw new Error('down')
      },
      { retry: { maxAttempts: 4, initialDelayMs: 100, backoffFactor: 10, maxDelayMs: 300, jitter: 0 } },
    )
    const wf = workflow({ id: 'r2', input: z.object({}) })
      .step('down', always)
      .build()
    const p = run(wf, {}, { clock }).catch((e) => e)
    await advance(clock, 1000, 1)
    const err = await p
    expect(times).toEqual([0, 100, 400, 700])
    expect(err).toBeInstanceOf(RunFailedError)
    const step = err.walk((e: unknown) => e instanceof StepFailedError) as StepFailedError
    expect(step.attempts).toBe(4)
    expect(step.stepId).toBe('down')
    expect(err.walk()).toBeInstanceOf(Error)
    expect((err.walk() as Error).message).toBe('down')
  })

  it('does not retry a NonRetryableError, nor what retryOn refuses', async () => {
    let calls = 0
    const wf = workflow({ id: 'nr', input: z.object({}) })
      .step(
        'x',
        fn(
          () => {
            calls++
            throw new NonRetryableError('bad request')
          },
          { retry: { maxAttempts: 5, initialDelayMs: 0 } },
        ),
      )
      .build()
    const err = await run(wf, {}).catch((e) => e)
    expect(err).toBeInstanceOf(RunFailedError)
    expect(calls).toBe(1)
    expect(err.walk()).toBeInstanceOf(NonRetryableError)
    let calls2 = 0
    const wf2 = workflow({ id: 'nr2', input: z.object({}) })
      .step(
        'x',
        fn(
          () => {
            calls2++
            throw new TypeError('bug')
          },
          { retry: { maxAttempts: 5, initialDelayMs: 0, retryOn: (e) => !(e instanceof TypeError) } },
        ),
      )
      .build()
    await expect(run(wf2, {})).rejects.toBeInstanceOf(RunFailedError)
    expect(calls2).toBe(1)
  })

  it('waits exactly what a RetryAfterError asks, instead of the backoff', async () => {
    const clock = new SimulatedClock()
    const times: number[] = []
    const limited = fn(
      () => {
        times.push(clock.now())
        if (times.length === 1) throw new RetryAfterError(1234)
        return 'ok'
      },
      { retry: { maxAttempts: 2, initialDelayMs: 10 } },
    )
    const wf = workflow({ id: 'ra', input: z.object({}) })
      .step('x', limited)
      .build()
    const p = run(wf, {}, { clock })
    await advance(clock, 1300, 1)
    expect((await p).status).toBe('succeeded')
    expect(times).toEqual([0, 1234])
  })

  it('retries a failed paid call with the same idempotency key and pays once', async () => {
    let failures = 1
    const a = setup({
      'acme/upper': (i) => {
        if (failures-- > 0) throw new Error('provider 503')
        return { text: (i as { text: string }).text.toUpperCase() }
      },
    })
    const keys: string[] = []
    const caller: PaidCaller = {
      call: (m, input, o) => {
        keys.push(o.idempotencyKey)
        return a.caller.call(m, input, o)
      },
    }
    const clock = new SimulatedClock()
    const wf = workflow({ id: 'pr', input: Text }).step('up', upper).build()
    const p = run(wf, { text: 'a' }, { ...a, caller, clock, random: () => 0 })
    await advance(clock, 600, 5)
    const r = await p
    expect(r.status === 'succeeded' && r.output).toEqual({ text: 'A' })
    expect(keys).toHaveLength(2)
    expect(keys[0]).toBe(keys[1])
    expect(a.stats.charges).toBe(1)
    expect(r.receipt.entries).toHaveLength(1)
  })

  it('retries a caller that throws before returning a promise, releasing its budget reservation once paid', async () => {
    const a = setup()
    let throws = 1
    const caller: PaidCaller = {
      call: (m, input, o) => {
        if (throws-- > 0) throw new Error('socket closed')
        return a.caller.call(m, input, o)
      },
    }
    const wf = workflow({ id: 'sync-throw', input: Text })
      .step('one', upper)
      .step('two', upper, ($) => $.steps.one)
      .build()
    const quoted = await plan(wf, { directory: a.directory })
    const clock = new SimulatedClock()
    // the budget fits both calls exactly: a reservation left behind by the failed attempt would refuse the second
    const p = run(wf, { text: 'a' }, { ...a, caller, clock, random: () => 0, budget: quoted.quote.total })
    await advance(clock, 600, 5)
    const r = await p
    expect(r.status === 'succeeded' && r.output).toEqual({ text: 'A' })
    expect(r.receipt.entries.map((e) => e.stepId)).toEqual(['one', 'two'])
    expect(a.stats.charges).toBe(2)
  })
})

describe('timeouts', () => {
  it('aborts an attempt after timeoutMs, retries, and fails with StepTimeoutError as the cause', async () => {
    const clock = new SimulatedClock()
    const aborted: unknown[] = []
    const hang = fn(
      (_: unknown, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            aborted.push(ctx.signal.reason)
            reject(ctx.signal.reason)
          })
        }),
      { timeoutMs: 1000, retry: { maxAttempts: 2, initialDelayMs: 100, jitter: 0 } },
    )
    const wf = workflow({ id: 't', input: z.object({}) })
      .step('hang', hang)
      .build()
    const events: RunEvent[] = []
    const p = run(wf, {}, { clock, onEvent: (e) => events.push(e) }).catch((e) => e)
    await advance(clock, 999, 1)
    expect(aborted).toHaveLength(0)
    await advance(clock, 1200, 1)
    const err = await p
    expect(err).toBeInstanceOf(RunFailedError)
    expect(err.walk()).toBeInstanceOf(StepTimeoutError)
    expect(aborted).toHaveLength(2)
    expect(aborted[0]).toBeInstanceOf(StepTimeoutError)
    const failed = events.find((e) => e.type === 'step.failed')
    expect(failed?.at).toBe(2100)
  })

  it('a step that finishes in time is not affected by its timeout', async () => {
    const clock = new SimulatedClock()
    const quick = fn(async (x: number) => x * 3, { timeoutMs: 50 })
    const wf = workflow({ id: 't2', input: z.number() }).step('q', quick).build()
    const r = await run(wf, 7, { clock })
    expect(r.status === 'succeeded' && r.output).toBe(21)
  })
})

describe('cancellation', () => {
  it('aborts the running step, settles what was paid, and throws RunCancelledError', async () => {
    const a = setup()
    const controller = new AbortController()
    let stepSignal: AbortSignal | undefined
    const slow = fn(
      (_: { text: string }, ctx) =>
        new Promise<{ text: string }>((_r, reject) => {
          stepSignal = ctx.signal
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))
        }),
    )
    const wf = workflow({ id: 'c', input: Text })
      .step('up', upper)
      .step('slow', slow)
      .step('never', upper)
      .build()
    const events: RunEvent[] = []
    const p = run(
      wf,
      { text: 'x' },
      { ...a, signal: controller.signal, onEvent: (e) => events.push(e) },
    ).catch((e) => e)
    for (let i = 0; i < 50 && !stepSignal; i++) await flush()
    expect(stepSignal?.aborted).toBe(false)
    controller.abort(new Error('user pressed stop'))
    const err = await p
    expect(err).toBeInstanceOf(RunCancelledError)
    expect(err.entries).toHaveLength(1)
    expect(stepSignal?.aborted).toBe(true)
    expect(a.settlements).toHaveLength(1)
    expect(a.stats.charges).toBe(1)
    expect(events.at(-1)?.type).toBe('run.cancelled')
    expect(events.some((e) => e.type === 'settlement')).toBe(true)
  })

  it('an already aborted signal runs nothing', async () => {
    const a = setup()
    const wf = workflow({ id: 'c2', input: Text }).step('up', upper).build()
    await expect(run(wf, { text: 'x' }, { ...a, signal: AbortSignal.abort() })).rejects.toBeInstanceOf(
      RunCancelledError,
    )
    expect(a.stats.charges).toBe(0)
  })
})

describe('money and boundaries', () => {
  it('parses the workflow input and answers with the list of issues', async () => {
    const wf = workflow({ id: 'in', input: z.object({ n: z.number().int(), s: z.string() }) })
      .step(
        'x',
        fn((x: { n: number }) => x.n),
      )
      .build()
    const err = await run(wf, { n: 1.5, s: 3 } as never).catch((e) => e)
    expect(err).toBeInstanceOf(InvalidInputError)
    expect(err.issues.map((i: { path: string }) => i.path).sort()).toEqual(['n', 's'])
  })

  it('refuses a call that would take the run over budget when a provider charges more than it listed', async () => {
    const a = setup()
    const greedy: PaidCaller = {
      async call(m, input, o) {
        const r = await a.caller.call(m, input, o)
        return { ...r, payment: { ...r.payment, amount: r.payment.amount * 3n } }
      },
    }
    const wf = workflow({ id: 'g', input: Text }).step('a', upper).step('b', upper).step('c', upper).build()
    const err = await run(wf, { text: 'x' }, { ...a, caller: greedy, budget: 20n }).catch((e) => e)
    expect(err).toBeInstanceOf(RunFailedError)
    expect(err.walk()).toBeInstanceOf(BudgetExceededError)
    expect(err.entries.map((e: { amount: bigint }) => e.amount)).toEqual([18n])
    expect(a.stats.charges).toBe(1)
    expect(a.settlements[0]?.entries).toHaveLength(1)
  })

  it('fails without retrying when a model answers outside its declared output, keeping the paid entry', async () => {
    const a = setup({ 'acme/upper': () => ({ wrong: true }) })
    const wf = workflow({ id: 'bad-out', input: Text }).step('up', upper).build()
    const err = await run(wf, { text: 'x' }, a).catch((e) => e)
    expect(err).toBeInstanceOf(RunFailedError)
    expect(err.walk()).toBeInstanceOf(InvalidModelOutputError)
    expect(a.stats.calls).toBe(1)
    expect(err.entries).toHaveLength(1)
    expect(a.settlements).toHaveLength(1)
  })

  it('validates the mapped input against the model card before paying', async () => {
    const a = setup()
    const square = model('acme/square@^1', {
      input: z.object({ x: z.any() }),
      output: z.object({ y: z.number() }),
    })
    const wf = workflow({ id: 'v', input: z.object({ v: z.unknown() }) })
      .step('sq', square, ($) => ({ x: $.input.v }))
      .build()
    const err = await run(wf, { v: 'not a number' }, a).catch((e) => e)
    expect(err.walk()).toBeInstanceOf(InvalidInputError)
    expect(a.stats.calls).toBe(0)
    const ok = await run(wf, { v: 4 }, a)
    expect(ok.status === 'succeeded' && ok.output).toEqual({ y: 16 })
  })

  it('streams typed events in order for a paid run', async () => {
    const a = setup()
    const wf = workflow({ id: 'ev', input: Text })
      .step('up', upper)
      .step(
        'len',
        fn((x: { text: string }) => x.text.length),
      )
      .build()
    const events: RunEvent[] = []
    await run(wf, { text: 'abc' }, { ...a, onEvent: (e) => events.push(e) })
    expect(events.map((e) => e.type)).toEqual([
      'run.started',
      'step.started',
      'payment',
      'step.succeeded',
      'step.started',
      'step.succeeded',
      'settlement',
      'run.succeeded',
    ])
    const payment = events.find((e) => e.type === 'payment')
    expect(payment?.type === 'payment' && payment.entry).toMatchObject({
      stepId: 'up',
      amount: 6n,
      modelVersion: '1.4.1',
    })
    expect(new Set(events.map((e) => e.runId)).size).toBe(1)
  })
})

describe('event stream', () => {
  it('streams the typed events of a run as an async iterable and ends with the run', async () => {
    const a = setup()
    const wf = workflow({ id: 'stream', input: Text })
      .step('up', upper)
      .step(
        'slow',
        fn(async (x: { text: string }) => {
          await new Promise((r) => setTimeout(r, 5))
          return x.text.length
        }),
      )
      .build()
    const { events, result } = streamRun(wf, { text: 'abc' }, a)
    const seen: string[] = []
    for await (const e of events) seen.push(e.type === 'payment' ? `payment:${e.entry.amount}` : e.type)
    expect(seen).toEqual([
      'run.started',
      'step.started',
      'payment:6',
      'step.succeeded',
      'step.started',
      'step.succeeded',
      'settlement',
      'run.succeeded',
    ])
    const r = await result
    expect(r.status === 'succeeded' && r.output).toBe(3)
  })

  it('ends the stream when the run fails, and the result rejects', async () => {
    const wf = workflow({ id: 'stream-fail', input: z.object({}) })
      .step(
        'boom',
        fn(() => {
          throw new NonRetryableError('no')
        }),
      )
      .build()
    const { events, result } = streamRun(wf, {})
    const seen: string[] = []
    for await (const e of events) seen.push(e.type)
    expect(seen).toEqual(['run.started', 'step.started', 'step.failed', 'run.failed'])
    await expect(result).rejects.toBeInstanceOf(RunFailedError)
  })
})

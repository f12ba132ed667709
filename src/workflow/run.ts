import { randomFillSync } from 'node:crypto'
import type { Hex } from 'viem'
import { createActor, type InspectionEvent, type Observer, type Snapshot } from 'xstate'
import type { z } from 'zod'
import { whenKeccakReady } from '../pay/keccak.js'
import {
  bindRuntime,
  compileWorkflow,
  type WorkflowMachine,
  type WorkflowMachineContext,
} from './compileWorkflow.js'
import { createMemorySnapshotStore } from './createMemorySnapshotStore.js'
import {
  InvalidInputError,
  MissingAdapterError,
  NotWaitingError,
  OverBudgetError,
  RunCancelledError,
  RunFailedError,
  RunNotFoundError,
  WorkflowDefinitionError,
  WorkflowMismatchError,
} from './errors.js'
import type { RunEvent } from './events.js'
import { type AttributionLedger, createAttributionLedger } from './ledger.js'
import type { WaitNode } from './nodes.js'
import { BlobWriter, dehydrateLedger, dehydrateMachine, hydrate } from './persistence.js'
import { cachedPlan, type Plan, plan } from './plan.js'
import { type Receipt, receiptRoot } from './receipt.js'
import { systemClock } from './retry.js'
import { nodesOf, type RunPolicy, RunRuntime, selectorOf } from './runtime.js'
import type { Env } from './selection.js'
import { LEDGER_SCHEME, type RunStatus, type SnapshotStore, type StoredRun } from './snapshotStore.js'
import type { Clock, ModelDirectory, PaidCaller, SettleResult, Settler } from './types.js'
import type { Workflow } from './workflow.js'

export type RunOptions = {
  /** Pays model calls. Required when the workflow has model steps. */
  readonly caller?: PaidCaller | undefined
  /** Settles the run at its end. Required when the workflow has model steps, unless `settle: false`. */
  readonly settler?: Settler | undefined
  /** Resolves model references (unless `plan` is given). */
  readonly directory?: ModelDirectory | undefined
  /** The most the run may spend, in token base units: the quote must fit, and every payment is checked. */
  readonly budget?: bigint | undefined
  readonly policy?: RunPolicy | undefined
  /** Cancels the run: running steps are aborted, what was paid is settled, the run ends `cancelled`. */
  readonly signal?: AbortSignal | undefined
  /** Stops the run where it is, keeping it resumable (a worker shutting down); returns `{ status: 'halted' }`. */
  readonly halt?: AbortSignal | undefined
  /** Time source for retries, timeouts and timestamps (XState's `SimulatedClock` fits). */
  readonly clock?: Clock | undefined
  /** Random source for backoff jitter (0 ≤ x < 1). */
  readonly random?: (() => number) | undefined
  /** Persists the run after every step and payment; needed to restore it elsewhere. */
  readonly store?: SnapshotStore | undefined
  /** A plan made earlier with `plan()` (saves resolving and checking on every run). */
  readonly plan?: Plan | undefined
  readonly runId?: Hex | undefined
  readonly onEvent?: ((event: RunEvent) => void) | undefined
  /** Settle at the end (default true). With false the receipt is returned unsettled, e.g. to batch runs. */
  readonly settle?: boolean | undefined
  /** XState inspection, as `createActor(machine, { inspect })` takes it. */
  readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void) | undefined
}

export type SucceededRun<O> = {
  readonly status: 'succeeded'
  readonly runId: Hex
  readonly output: O
  readonly receipt: Receipt
}
export type SuspendedRun<O> = {
  readonly status: 'suspended'
  readonly runId: Hex
  /** Ids of the wait steps to resume. */
  readonly waiting: readonly string[]
  /** What was paid so far (settled only at the end). */
  readonly receipt: Receipt
  /** Where the run is stored (a private in-memory store when none was given). */
  readonly store: SnapshotStore
  /** Resumes a waiting step with its payload (parsed with the step's schema), with the same options. */
  readonly resume: (stepId: string, payload: unknown, options?: RunOptions) => Promise<RunResult<O>>
}
export type HaltedRun<O> = {
  readonly status: 'halted'
  readonly runId: Hex
  readonly receipt: Receipt
  readonly store: SnapshotStore
  /** Continues the run from its stored state. */
  readonly restore: (options?: RunOptions) => Promise<RunResult<O>>
}

/** A run's outcome. Failure and cancellation throw `RunFailedError` / `RunCancelledError`. */
export type RunResult<O> = SucceededRun<O> | SuspendedRun<O> | HaltedRun<O>

type Actor = ReturnType<typeof createActor<WorkflowMachine>>
type Snap = ReturnType<Actor['getSnapshot']>

const WAIT_TAG = 'tributary.wait:'

function waitingOf(snap: Snap): string[] {
  const out: string[] = []
  for (const t of snap.tags) if (t.startsWith(WAIT_TAG)) out.push(t.slice(WAIT_TAG.length))
  return out
}

function hasChildren(snap: Snap): boolean {
  for (const _ in snap.children) return true
  return false
}

// Run ids come from a pooled buffer of OS randomness: one syscall per 128 runs instead of one per run.
const pool = Buffer.allocUnsafe(32 * 128)
let poolOffset = pool.length
function randomRunId(): Hex {
  if (poolOffset >= pool.length) {
    randomFillSync(pool)
    poolOffset = 0
  }
  poolOffset += 32
  return `0x${pool.toString('hex', poolOffset - 32, poolOffset)}`
}

function makeReceipt(
  runId: Hex,
  workflowId: string,
  ledger: AttributionLedger,
  settlement: SettleResult | undefined,
  root?: Hex,
): Receipt {
  const entries = [...ledger.entries]
  return {
    runId,
    workflowId,
    root: root ?? receiptRoot(entries),
    entries,
    totals: Object.fromEntries(ledger.totals()),
    settlement,
  }
}

function checkAdapters(p: Plan, options: RunOptions): void {
  if (!p.models.size) return
  if (!options.caller)
    throw new MissingAdapterError(
      `workflow "${p.workflowId}" calls paid models; pass { caller } (a PaidCaller) to run().`,
    )
  if (options.settle !== false && !options.settler)
    throw new MissingAdapterError(
      `workflow "${p.workflowId}" calls paid models; pass { settler } to run(), or { settle: false } to settle later.`,
    )
}

type Outcome =
  | { kind: 'succeeded'; snap: Snap }
  | { kind: 'failed'; error: unknown }
  | { kind: 'suspended'; waiting: string[] }
  | { kind: 'cancelled' }
  | { kind: 'halted' }
  | { kind: 'lost'; error: unknown }

type Session = {
  readonly workflow: Workflow
  readonly rt: RunRuntime
  readonly actor: Actor
  readonly options: RunOptions
  readonly store: SnapshotStore | undefined
  readonly version: number
  readonly createdAt: number
  readonly settlement: SettleResult | undefined
  readonly resumeEvent: { type: `resume:${string}`; payload: unknown } | undefined
}

class Persister {
  version: number
  /** Told when a save fails (another worker saved the run, or the store is down): the run must stop. */
  onFailure: ((error: unknown) => void) | undefined
  private chain: Promise<void> = Promise.resolve()
  private failure: { error: unknown } | undefined
  private lastOutputs: unknown
  private lastLedger = -1
  private readonly blobs: BlobWriter
  constructor(
    private readonly s: Session,
    private readonly store: SnapshotStore,
  ) {
    this.version = s.version
    this.blobs = new BlobWriter(store)
  }

  onSnapshot(snap: Snap): void {
    const n = this.s.rt.p.ledger.entries.length
    if (snap.context.outputs === this.lastOutputs && n === this.lastLedger) return
    this.lastOutputs = snap.context.outputs
    this.lastLedger = n
    this.save('running', this.s.actor.getPersistedSnapshot(), [], undefined)
  }

  onPayment(): void {
    if (this.s.actor.getSnapshot().status !== 'active') return
    this.lastLedger = this.s.rt.p.ledger.entries.length
    this.save('running', this.s.actor.getPersistedSnapshot(), [], undefined)
  }

  save(
    status: RunStatus,
    persisted: unknown,
    waiting: readonly string[],
    settlement: SettleResult | undefined,
  ): Promise<void> {
    const { rt, workflow, createdAt } = this.s
    const record: StoredRun = {
      runId: rt.p.runId,
      workflowId: workflow.id,
      fingerprint: workflow.fingerprint,
      status,
      waiting,
      machine: dehydrateMachine(persisted, this.blobs),
      ledger: dehydrateLedger(rt.p.ledger, this.blobs),
      ledgerScheme: LEDGER_SCHEME,
      settlement,
      createdAt,
      updatedAt: rt.p.clock.now(),
    }
    this.chain = this.chain.then(async () => {
      if (this.failure) return
      try {
        await this.blobs.flush()
        this.version = await this.store.save(record, { expectedVersion: this.version })
      } catch (error) {
        this.failure = { error }
        this.onFailure?.(error)
      }
    })
    return this.chain
  }

  async done(): Promise<void> {
    await this.chain
    if (this.failure) throw this.failure.error
  }
}

/**
 * Watches one run's actor until it ends, suspends, is cancelled or halted. A class rather than closures: it is
 * created once per run and is on the hot path of short runs.
 */
class Watcher {
  readonly outcome: Promise<Outcome>
  private resolve!: (o: Outcome) => void
  private done = false
  private readonly sub: { unsubscribe(): void }

  constructor(
    private readonly rt: RunRuntime,
    actor: Actor,
    private readonly options: RunOptions,
    private readonly persister: Persister | undefined,
  ) {
    this.outcome = new Promise<Outcome>((r) => {
      this.resolve = r
    })
    this.sub = actor.subscribe(this)
    if (options.signal?.aborted) this.finish({ kind: 'cancelled' })
    else if (options.halt?.aborted) this.finish({ kind: 'halted' })
    else {
      options.signal?.addEventListener('abort', this, { once: true })
      options.halt?.addEventListener('abort', this, { once: true })
      this.next(actor.getSnapshot())
    }
  }

  next(snap: Snap): void {
    if (this.done) return
    if (snap.status === 'done') {
      if (snap.value === 'succeeded') this.finish({ kind: 'succeeded', snap })
      else
        this.finish({
          kind: 'failed',
          error: this.rt.error ?? new Error(snap.context.failure?.message ?? 'the run failed'),
        })
      return
    }
    if (snap.status === 'error') {
      this.finish({ kind: 'failed', error: snap.error })
      return
    }
    if (snap.status !== 'active') return
    this.persister?.onSnapshot(snap)
    if (!hasChildren(snap)) {
      const waiting = waitingOf(snap)
      this.finish(
        waiting.length
          ? { kind: 'suspended', waiting }
          : {
              kind: 'failed',
              error: new WorkflowDefinitionError('the run has nothing left to do but is not finished'),
            },
      )
    }
  }

  error(error: unknown): void {
    this.finish({ kind: 'failed', error })
  }

  /** The run's state could not be saved: stop here, settle nothing (another worker may own the run). */
  lost(error: unknown): void {
    this.finish({ kind: 'lost', error })
  }

  /** The abort of the cancel signal or of the halt signal. */
  handleEvent(event: Event): void {
    this.finish(event.target === this.options.halt ? { kind: 'halted' } : { kind: 'cancelled' })
  }

  private finish(o: Outcome): void {
    if (this.done) return
    this.done = true
    this.sub?.unsubscribe()
    this.options.signal?.removeEventListener('abort', this)
    this.options.halt?.removeEventListener('abort', this)
    this.resolve(o)
  }
}

async function execute<O>(s: Session): Promise<RunResult<O>> {
  const { rt, actor, options, workflow } = s
  const { runId, clock, ledger } = rt.p
  const store = s.store
  const persister = store ? new Persister(s, store) : undefined
  if (persister) (rt.p as { afterPayment?: () => void }).afterPayment = () => persister.onPayment()
  let settlement = s.settlement

  if (options.signal?.aborted) {
    rt.emit({ type: 'run.cancelled', runId, at: clock.now() })
    throw new RunCancelledError(runId, [...ledger.entries], options.signal.reason)
  }
  actor.start()
  if (s.resumeEvent) actor.send(s.resumeEvent)

  const watcher = new Watcher(rt, actor, options, persister)
  if (persister) persister.onFailure = (error) => watcher.lost(error)
  const outcome = await watcher.outcome

  let root: Hex | undefined
  const settle = async (always: boolean) => {
    if (settlement || !ledger.entries.length) return
    if (options.settle === false || (!always && options.policy?.settleOnFailure === false)) return
    if (!options.settler) return
    root = receiptRoot(ledger.entries)
    settlement = await options.settler.settle({ runId, receiptRoot: root, entries: [...ledger.entries] })
    rt.emit({
      type: 'settlement',
      runId,
      at: clock.now(),
      receiptRoot: root,
      entries: ledger.entries.length,
      result: settlement,
    })
  }

  switch (outcome.kind) {
    case 'succeeded': {
      const output = selectorOf(workflow.output)(outcome.snap.context as Env) as O
      // A conflicting save means another worker owns this run: do not settle it from here.
      if (persister)
        await persister.done().catch((error) => {
          actor.stop()
          rt.emit({ type: 'run.failed', runId, at: clock.now(), error })
          throw error
        })
      await settle(true)
      if (persister) {
        persister.save('succeeded', actor.getPersistedSnapshot(), [], settlement)
        await persister.done()
      }
      actor.stop()
      rt.emit({ type: 'run.succeeded', runId, at: clock.now() })
      return {
        status: 'succeeded',
        runId,
        output,
        receipt: makeReceipt(runId, workflow.id, ledger, settlement, root),
      }
    }
    case 'suspended': {
      const persisted = actor.getPersistedSnapshot()
      actor.stop()
      const target = store ?? createMemorySnapshotStore()
      const p = persister ?? new Persister(s, target)
      p.save('suspended', persisted, outcome.waiting, settlement)
      await p.done()
      for (const stepId of outcome.waiting) rt.emit({ type: 'step.waiting', runId, at: clock.now(), stepId })
      rt.emit({ type: 'run.suspended', runId, at: clock.now(), waiting: outcome.waiting })
      return {
        status: 'suspended',
        runId,
        waiting: outcome.waiting,
        receipt: makeReceipt(runId, workflow.id, ledger, settlement),
        store: target,
        resume: (stepId, payload, more) =>
          resume(
            workflow as Workflow<z.ZodType, O>,
            { runId, step: stepId, payload },
            { ...options, plan: rt.p.plan, ...more, store: target },
          ),
      }
    }
    case 'halted': {
      const persisted = actor.getPersistedSnapshot()
      actor.stop()
      const target = store ?? createMemorySnapshotStore()
      const p = persister ?? new Persister(s, target)
      p.save('halted', persisted, [], settlement)
      await p.done()
      return {
        status: 'halted',
        runId,
        receipt: makeReceipt(runId, workflow.id, ledger, settlement),
        store: target,
        restore: (more) =>
          resume(
            workflow as Workflow<z.ZodType, O>,
            { runId },
            { ...options, halt: undefined, plan: rt.p.plan, ...more, store: target },
          ),
      }
    }
    case 'lost': {
      actor.stop()
      rt.emit({ type: 'run.failed', runId, at: clock.now(), error: outcome.error })
      throw outcome.error
    }
    case 'cancelled': {
      actor.stop()
      await settle(false)
      if (persister) {
        persister.save('cancelled', actor.getPersistedSnapshot(), [], settlement)
        await persister.done().catch(() => {})
      }
      rt.emit({ type: 'run.cancelled', runId, at: clock.now() })
      throw new RunCancelledError(runId, [...ledger.entries], options.signal?.reason)
    }
    case 'failed': {
      actor.stop()
      await settle(false)
      if (persister) {
        persister.save('failed', actor.getPersistedSnapshot(), [], settlement)
        await persister.done().catch(() => {})
      }
      rt.emit({ type: 'run.failed', runId, at: clock.now(), error: outcome.error })
      throw new RunFailedError(runId, outcome.error, [...ledger.entries])
    }
  }
}

function runtimeFor(
  workflow: Workflow,
  p: Plan,
  runId: Hex,
  options: RunOptions,
  ledger: AttributionLedger,
): RunRuntime {
  return new RunRuntime({
    runId,
    workflow,
    plan: p,
    caller: options.caller,
    ledger,
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    budget: options.budget,
    policy: options.policy ?? {},
    onEvent: options.onEvent,
  })
}

async function planFor(workflow: Workflow, input: unknown, options: RunOptions): Promise<Plan> {
  const p =
    options.plan ??
    cachedPlan(workflow, options.budget) ??
    (await plan(workflow, {
      directory: options.directory,
      input,
      budget: options.budget,
      policy: options.policy,
    }))
  if (p.fingerprint !== workflow.fingerprint)
    throw new WorkflowMismatchError(
      `the plan was made for another workflow (${p.workflowId}); plan this one.`,
    )
  if (options.budget !== undefined && p.quote.total > options.budget)
    throw new OverBudgetError(p.quote.total, options.budget, [])
  checkAdapters(p, options)
  return p
}

/**
 * Runs a workflow: parses the input, plans it (resolve, type-check, quote — refusing before any payment), executes
 * the compiled XState machine with retries, timeouts and cancellation, records every paid call in the attribution
 * ledger, and settles the run once at the end. Returns the output and the Merkle-rooted receipt, or a suspended /
 * halted run to resume later. Throws `RunFailedError` or `RunCancelledError` (both carry the paid entries).
 *
 * @example
 * ```ts
 * const result = await run(docs, { image }, { directory, caller, settler, budget: 1_000n, onEvent: console.log })
 * if (result.status === 'succeeded') console.log(result.output, result.receipt.root)
 * if (result.status === 'suspended') await result.resume('approval', { approved: true, by: 'ops' })
 * ```
 */
export async function run<W extends z.ZodType, O>(
  workflow: Workflow<W, O>,
  input: z.input<W>,
  options: RunOptions = {},
): Promise<RunResult<O>> {
  const compiling = whenKeccakReady()
  if (compiling) await compiling
  const parsed = workflow.inputSchema.safeParse(input)
  if (!parsed.success)
    throw new InvalidInputError(
      `the input of workflow "${workflow.id}"`,
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    )
  const p = await planFor(workflow, parsed.data, options)
  const runId = options.runId ?? randomRunId()
  const rt = runtimeFor(workflow, p, runId, options, createAttributionLedger())
  const actor = createActor(compileWorkflow(workflow), {
    input: { input: parsed.data },
    clock: rt.p.clock,
    ...(options.inspect ? { inspect: options.inspect } : {}),
  })
  bindRuntime(actor.system, rt)
  rt.emit({ type: 'run.started', runId, at: rt.p.clock.now(), workflowId: workflow.id })
  return execute<O>({
    workflow,
    rt,
    actor,
    options,
    store: options.store,
    version: 0,
    createdAt: rt.p.clock.now(),
    settlement: undefined,
    resumeEvent: undefined,
  })
}

export type ResumeParameters = {
  readonly runId: Hex
  /** The wait step to resume; omit to continue a halted (or crashed) run. */
  readonly step?: string | undefined
  /** The event payload for `step`, parsed with the wait step's schema. */
  readonly payload?: unknown
}

/**
 * Continues a stored run: a suspended one with the payload of a wait step (validated against its schema), or a halted
 * or crashed one from where it was saved. Completed steps are not run again and paid calls are never paid again:
 * their outputs come from the snapshot and the ledger (a step that was in flight runs again with the same
 * idempotency key).
 *
 * @example
 * ```ts
 * const result = await resume(docs, { runId, step: 'approval', payload: { approved: true } }, { store, caller, settler, directory })
 * ```
 */
export async function resume<W extends z.ZodType, O>(
  workflow: Workflow<W, O>,
  parameters: ResumeParameters,
  options: RunOptions & { readonly store: SnapshotStore },
): Promise<RunResult<O>> {
  const { store } = options
  await whenKeccakReady()
  const stored = await store.load(parameters.runId)
  if (!stored) throw new RunNotFoundError(parameters.runId)
  if (stored.fingerprint !== workflow.fingerprint)
    throw new WorkflowMismatchError(
      `run ${parameters.runId} was made by a different version of workflow "${stored.workflowId}"; resume it with that version.`,
    )
  if (stored.status === 'succeeded' || stored.status === 'failed' || stored.status === 'cancelled')
    throw new WorkflowMismatchError(
      `run ${parameters.runId} already ended (${stored.status}); it cannot be resumed.`,
    )
  if (stored.ledger.length && stored.ledgerScheme !== LEDGER_SCHEME)
    throw new WorkflowMismatchError(
      `run ${parameters.runId} was saved by another version of tributary (ledger scheme ${stored.ledgerScheme ?? 1}, this version uses ${LEDGER_SCHEME}); resuming it here would pay again for calls it already paid. Resume it with the version that saved it, or settle what it recorded and start a new run.`,
    )
  let resumeEvent: Session['resumeEvent']
  if (parameters.step !== undefined) {
    if (!stored.waiting.includes(parameters.step))
      throw new NotWaitingError(parameters.runId, parameters.step, stored.waiting)
    const node = nodesOf(workflow).get(parameters.step) as WaitNode | undefined
    if (node?.kind !== 'wait') throw new NotWaitingError(parameters.runId, parameters.step, stored.waiting)
    const parsed = node.schema.safeParse(parameters.payload)
    if (!parsed.success)
      throw new InvalidInputError(
        `the payload for "${parameters.step}"`,
        parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      )
    resumeEvent = { type: `resume:${parameters.step}`, payload: parsed.data }
  } else if (stored.status === 'suspended')
    throw new NotWaitingError(parameters.runId, '(none given)', stored.waiting)
  const hydrated = await hydrate(store, stored.machine, stored.ledger)
  const context = (hydrated.machine as { context: WorkflowMachineContext }).context
  const p = await planFor(workflow, context.input, options)
  const ledger = createAttributionLedger(hydrated.ledger)
  const rt = runtimeFor(workflow, p, stored.runId, options, ledger)
  const actor = createActor(compileWorkflow(workflow), {
    // a persisted snapshot of this machine, restored from the store
    snapshot: hydrated.machine as Snapshot<unknown>,
    input: { input: context.input },
    clock: rt.p.clock,
    ...(options.inspect ? { inspect: options.inspect } : {}),
  })
  bindRuntime(actor.system, rt)
  rt.emit({
    type: 'run.resumed',
    runId: stored.runId,
    at: rt.p.clock.now(),
    workflowId: workflow.id,
    stepId: parameters.step,
  })
  return execute<O>({
    workflow,
    rt,
    actor,
    options,
    store,
    version: stored.version,
    createdAt: stored.createdAt,
    settlement: stored.settlement,
    resumeEvent,
  })
}

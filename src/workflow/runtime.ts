import type { Hex } from 'viem'
import { BaseError } from '../errors/base.js'
import { callPaidModel, type PaidCallDependencies } from './callPaidModel.js'
import {
  InvalidInputError,
  InvalidModelOutputError,
  MissingAdapterError,
  NonRetryableError,
  StepFailedError,
  WorkflowDefinitionError,
} from './errors.js'
import type { RunEvent } from './events.js'
import type { AttributionLedger } from './ledger.js'
import type { BranchNode, FlowNode, MapNode, ModelTaskSpec, TaskNode } from './nodes.js'
import type { Plan } from './plan.js'
import { defaultFnRetry, defaultModelRetry, retrying } from './retry.js'
import { compileSelection, type Env, type Selection } from './selection.js'
import type { Clock, PaidCaller, ResolvedModel, RetryPolicy, StepOptions } from './types.js'
import type { Workflow } from './workflow.js'

/** Run-wide execution policy. */
export type RunPolicy = StepOptions & {
  /** Refuse models above this price per call (checked by the planner). */
  readonly maxPricePerCall?: bigint
  /** Refuse models this returns false for (checked by the planner). */
  readonly allowModel?: (model: ResolvedModel) => boolean
  /** Settle the calls already paid when a run fails or is cancelled (default true). */
  readonly settleOnFailure?: boolean
}

const selectors = new WeakMap<Selection, (env: Env) => unknown>()
/** The compiled form of a selection, cached. */
export function selectorOf(sel: Selection): (env: Env) => unknown {
  let f = selectors.get(sel)
  if (!f) {
    f = compileSelection(sel)
    selectors.set(sel, f)
  }
  return f
}

const nodeIndexes = new WeakMap<Workflow, Map<string, FlowNode>>()
function indexNodes(node: FlowNode, into: Map<string, FlowNode>): void {
  into.set(node.key, node)
  switch (node.kind) {
    case 'seq':
      for (const n of node.nodes) indexNodes(n, into)
      break
    case 'parallel':
      for (const b of node.branches) indexNodes(b.body, into)
      break
    case 'branch':
      for (const c of node.cases) indexNodes(c.body, into)
      if (node.otherwise) indexNodes(node.otherwise, into)
      break
    case 'map':
      indexNodes(node.body, into)
      break
  }
}
/** Every node of a workflow by key. */
export function nodesOf(workflow: Workflow): Map<string, FlowNode> {
  let m = nodeIndexes.get(workflow)
  if (!m) {
    m = new Map()
    indexNodes(workflow.root, m)
    nodeIndexes.set(workflow, m)
  }
  return m
}

/** Wraps what a bare step threw: cancellation passes through, an engine error stays, anything else is a failed step. */
export function stepFailure(stepId: string, error: unknown, signal?: AbortSignal): unknown {
  if (signal?.aborted) return signal.reason
  return error instanceof BaseError ? error : new StepFailedError(stepId, 1, error)
}

/** The scope a guard sees: `$.input`, `$.steps.<name>` for every visible step, and the map item if any. */
export function guardScope(node: BranchNode, env: Env): unknown {
  const steps: Record<string, unknown> = {}
  for (const [name, key] of node.visible) steps[name] = env.outputs[key]
  return { input: env.input, steps, item: env.item, index: env.index }
}

const identity = (k: string) => k

export type RuntimeParameters = {
  readonly runId: Hex
  readonly workflow: Workflow
  readonly plan: Plan
  readonly caller: PaidCaller | undefined
  readonly ledger: AttributionLedger
  readonly clock: Clock
  readonly random: () => number
  readonly budget: bigint | undefined
  readonly policy: RunPolicy
  readonly onEvent: ((event: RunEvent) => void) | undefined
  /** Called after every payment is recorded (the runtime persists the ledger then). */
  readonly afterPayment?: (() => void) | undefined
}

/** Per-run execution state shared by the XState actors of one run (looked up through the actor system). */
export class RunRuntime {
  readonly p: RuntimeParameters
  readonly nodes: Map<string, FlowNode>
  /** The error that failed the run (XState context keeps only a serialisable summary). */
  error: unknown
  private readonly retries = new WeakMap<object, RetryPolicy>()
  private readonly listen: boolean

  constructor(p: RuntimeParameters) {
    this.p = p
    this.nodes = nodesOf(p.workflow)
    this.listen = p.onEvent !== undefined
  }

  emit(event: RunEvent): void {
    try {
      this.p.onEvent?.(event)
    } catch {
      // a listener's error must not break the run
    }
  }

  private retryFor(task: TaskNode['task']): RetryPolicy {
    let r = this.retries.get(task)
    if (!r) {
      r = {
        ...(task.kind === 'model' ? defaultModelRetry : defaultFnRetry),
        ...this.p.policy.retry,
        ...task.options.retry,
      }
      this.retries.set(task, r)
    }
    return r
  }

  /** Runs one task step (a local function or a paid model call) with retries and timeouts. */
  runTask(
    node: TaskNode,
    value: unknown,
    stepId: string,
    item: number,
    signal: AbortSignal,
  ): Promise<unknown> {
    const task = node.task
    // Fast path: a local function with one attempt, no timeout and nobody listening runs bare; its error is wrapped
    // by the machine's onError (stepFailure). This is the per-step cost the engine benchmark measures.
    if (
      task.kind === 'fn' &&
      !this.listen &&
      task.options.timeoutMs === undefined &&
      this.p.policy.timeoutMs === undefined &&
      this.retryFor(task).maxAttempts === 1
    ) {
      try {
        const out = task.run(value, { runId: this.p.runId, stepId, item, attempt: 1, signal })
        return out instanceof Promise ? out : Promise.resolve(out)
      } catch (e) {
        return Promise.reject(e)
      }
    }
    // A paid model step with nobody listening needs no step events: its call goes out at once, one promise deep.
    if (task.kind === 'model' && !this.listen)
      try {
        return this.callModel(
          node,
          task,
          value,
          stepId,
          item,
          signal,
          this.retryFor(task),
          task.options.timeoutMs ?? this.p.policy.timeoutMs,
          false,
        )
      } catch (e) {
        return Promise.reject(e)
      }
    return this.runTaskFully(node, value, stepId, item, signal)
  }

  private async runTaskFully(
    node: TaskNode,
    value: unknown,
    stepId: string,
    item: number,
    signal: AbortSignal,
  ): Promise<unknown> {
    const task = node.task
    const retry = this.retryFor(task)
    const timeoutMs = task.options.timeoutMs ?? this.p.policy.timeoutMs
    const { runId, clock } = this.p
    const listen = this.listen
    const started = listen ? clock.now() : 0
    try {
      let output: unknown
      let reused = false
      if (task.kind === 'fn') {
        if (!listen && retry.maxAttempts === 1 && timeoutMs === undefined) {
          try {
            output = await task.run(value, { runId, stepId, item, attempt: 1, signal })
          } catch (e) {
            if (signal.aborted) throw signal.reason
            throw new StepFailedError(stepId, 1, e)
          }
        } else
          output = await retrying(
            stepId,
            (attempt, s) => task.run(value, { runId, stepId, item, attempt, signal: s }),
            {
              policy: retry,
              timeoutMs,
              clock,
              signal,
              random: this.p.random,
              onAttempt: listen
                ? (attempt) =>
                    this.emit({ type: 'step.started', runId, at: clock.now(), stepId, item, attempt })
                : undefined,
              onRetry: listen
                ? (attempt, delayMs, error) =>
                    this.emit({
                      type: 'step.retried',
                      runId,
                      at: clock.now(),
                      stepId,
                      item,
                      attempt,
                      delayMs,
                      error,
                    })
                : undefined,
            },
          )
      } else {
        const r = (await this.callModel(node, task, value, stepId, item, signal, retry, timeoutMs, true)) as {
          output: unknown
          reused: boolean
        }
        output = r.output
        reused = r.reused
      }
      if (listen)
        this.emit({
          type: 'step.succeeded',
          runId,
          at: clock.now(),
          stepId,
          item,
          durationMs: clock.now() - started,
          reused,
        })
      return output
    } catch (error) {
      if (listen && !signal.aborted)
        this.emit({ type: 'step.failed', runId, at: clock.now(), stepId, item, error })
      throw error
    }
  }

  /**
   * A paid model step: checks the plan and the input, pays through `callPaidModel`, parses the output with the step's
   * schema. Resolves the output, or `{ output, reused }` when `withReuse` is set. Not async (see `callPaidModel`).
   */
  private callModel(
    node: TaskNode,
    task: ModelTaskSpec,
    value: unknown,
    stepId: string,
    item: number,
    signal: AbortSignal,
    retry: RetryPolicy,
    timeoutMs: number | undefined,
    withReuse: boolean,
  ): Promise<unknown> {
    const planned = this.p.plan.models.get(node.key)
    if (!planned)
      return Promise.reject(
        new StepFailedError(
          stepId,
          0,
          new WorkflowDefinitionError(
            `step "${node.key}" is not in the plan; plan the workflow before running it.`,
          ),
        ),
      )
    if (!this.p.caller)
      return Promise.reject(
        new StepFailedError(
          stepId,
          0,
          new MissingAdapterError(`step "${stepId}" calls a paid model; pass { caller } to run().`),
        ),
      )
    const problems = planned.validateInput(value)
    if (problems)
      return Promise.reject(
        new StepFailedError(
          stepId,
          0,
          new InvalidInputError(
            `the input of step "${stepId}" for ${planned.model.id}@${planned.model.version}`,
            problems.map((m) => ({ path: '', message: m })),
          ),
        ),
      )
    const deps = this.paidDeps ?? this.makePaidDeps(this.p.caller)
    return callPaidModel(deps, {
      model: planned.model,
      input: value,
      runId: this.p.runId,
      stepId,
      item,
      signal,
      retry,
      timeoutMs,
    }).then(
      (r) => {
        const parsed = task.output.safeParse(r.output)
        if (!parsed.success)
          throw new StepFailedError(
            stepId,
            1,
            new InvalidModelOutputError(
              `${planned.model.id}@${planned.model.version} answered step "${stepId}" with an output that does not match the step's schema; the call was paid and recorded, report it to the model's provider.`,
              {
                metaMessages: parsed.error.issues.map(
                  (i) => `- ${i.path.join('.') || '(root)'}: ${i.message}`,
                ),
              },
            ),
          )
        return withReuse ? { output: parsed.data, reused: r.reused } : parsed.data
      },
      (e) => {
        if (e instanceof StepFailedError || signal.aborted) throw e
        throw new StepFailedError(stepId, 0, e)
      },
    )
  }

  private paidDeps: PaidCallDependencies | undefined

  /** The paid-call dependencies of this run, built once (no closures per call on the hot path). */
  private makePaidDeps(caller: PaidCaller): PaidCallDependencies {
    const { runId, clock } = this.p
    const listen = this.listen
    this.paidDeps = {
      caller,
      ledger: this.p.ledger,
      clock,
      random: this.p.random,
      budget: this.p.budget,
      onPayment:
        listen || this.p.afterPayment
          ? (entry) => {
              if (listen)
                this.emit({
                  type: 'payment',
                  runId,
                  at: clock.now(),
                  stepId: entry.stepId,
                  item: entry.item,
                  entry,
                })
              this.p.afterPayment?.()
            }
          : undefined,
      onAttempt: listen
        ? (stepId, item, attempt) =>
            this.emit({ type: 'step.started', runId, at: clock.now(), stepId, item, attempt })
        : undefined,
      onRetry: listen
        ? (stepId, item, attempt, delayMs, error) =>
            this.emit({ type: 'step.retried', runId, at: clock.now(), stepId, item, attempt, delayMs, error })
        : undefined,
    }
    return this.paidDeps
  }

  /** Runs a map node: its body once per item, `concurrency` at a time, failing fast. */
  async runMap(
    node: MapNode,
    env: Env,
    rename: (key: string) => string,
    signal: AbortSignal,
  ): Promise<unknown[]> {
    const mapId = rename(node.key)
    const items = selectorOf(node.list)(env)
    if (!Array.isArray(items))
      throw new StepFailedError(
        mapId,
        0,
        new NonRetryableError(`map "${mapId}" selected ${typeof items}, not an array`),
      )
    if (node.maxItems !== undefined && items.length > node.maxItems)
      throw new StepFailedError(
        mapId,
        0,
        new NonRetryableError(
          `map "${mapId}" got ${items.length} items, above its maxItems of ${node.maxItems}; nothing was paid for it`,
        ),
      )
    const results = new Array<unknown>(items.length)
    const ac = new AbortController()
    const onAbort = () => ac.abort(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    const prefix = `${node.key}[]`
    let next = 0
    let failure: { error: unknown } | undefined
    const worker = async () => {
      while (next < items.length && !failure) {
        const i = next++
        const base = `${mapId}[${i}]`
        const itemRename = (k: string) => (k.startsWith(prefix) ? base + k.slice(prefix.length) : rename(k))
        const itemEnv: Env = {
          input: env.input,
          outputs: Object.create(env.outputs),
          item: items[i],
          index: i,
        }
        try {
          results[i] = await this.runBody(node.body, itemEnv, itemRename, i, ac.signal)
        } catch (error) {
          if (!failure) {
            failure = { error }
            ac.abort(error)
          }
        }
      }
    }
    try {
      await Promise.all(Array.from({ length: Math.min(node.concurrency, items.length) }, worker))
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
    if (failure) throw signal.aborted ? signal.reason : failure.error
    return results
  }

  /** Interprets a node inside a map item (maps run as one actor; their bodies are not XState states). */
  async runBody(
    node: FlowNode,
    env: Env,
    rename: (key: string) => string,
    item: number,
    signal: AbortSignal,
  ): Promise<unknown> {
    const outputs = env.outputs as Record<string, unknown>
    let out: unknown
    switch (node.kind) {
      case 'task':
        out = await this.runTask(node, selectorOf(node.select)(env), rename(node.key), item, signal).catch(
          (e) => {
            throw stepFailure(rename(node.key), e, signal)
          },
        )
        break
      case 'seq':
        for (const n of node.nodes) out = await this.runBody(n, env, rename, item, signal)
        break
      case 'parallel': {
        const values = await Promise.all(
          node.branches.map((b) => this.runBody(b.body, env, rename, item, signal)),
        )
        const obj: Record<string, unknown> = {}
        node.branches.forEach((b, i) => {
          obj[b.name] = values[i]
        })
        out = obj
        break
      }
      case 'branch': {
        const scope = guardScope(node, env) as never
        const chosen = node.cases.find((c) => c.guard(scope))?.body ?? node.otherwise
        out = chosen ? await this.runBody(chosen, env, rename, item, signal) : undefined
        break
      }
      case 'map':
        out = await this.runMap(node, env, rename, signal)
        break
      case 'wait':
        throw new WorkflowDefinitionError(`wait "${node.key}" cannot run inside a map.`)
    }
    outputs[node.key] = out
    return out
  }

  /** Runs a top-level map node from its XState actor. */
  runMapActor(key: string, env: Env, signal: AbortSignal): Promise<unknown[]> {
    return this.runMap(this.nodes.get(key) as MapNode, env, identity, signal)
  }
}

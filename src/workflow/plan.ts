import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import type { Address, Hex } from 'viem'
import { checkSubschema, isUnknownSchema, zodJsonSchema } from '../market/jsonSchema.js'
import {
  MissingPathError,
  OverBudgetError,
  type PlanIssue,
  PolicyViolationError,
  SchemaMismatchError,
  UnboundedQuoteError,
  UnknownModelError,
} from './errors.js'
import type { FlowNode, ModelTaskSpec } from './nodes.js'
import { compileSelection, formatSelection } from './selection.js'
import { selectionSchema } from './selectionSchema.js'
import type { JSONSchema, ModelDirectory, ResolvedModel } from './types.js'
import type { Workflow } from './workflow.js'

/** A model step after planning: the model it will call, its input validator, and what it may cost. */
export type PlannedModel = {
  readonly stepId: string
  readonly ref: string
  readonly model: ResolvedModel
  /** The most calls this step can pay for (one per item; retries reuse the idempotency key). */
  readonly maxCalls: bigint
  readonly maxCost: bigint
  /** Validates the mapped input against the model's input JSON Schema; returns the errors, or undefined. */
  readonly validateInput: (value: unknown) => string[] | undefined
}

/** A step as the plan lists it. */
export type PlanStep = {
  readonly stepId: string
  readonly kind: 'model' | 'fn' | 'wait' | 'parallel' | 'branch' | 'map' | 'seq'
  readonly depth: number
  readonly detail: string
  readonly input: string | undefined
}

/** What each model (by asset) may cost at most. */
export type ModelQuote = {
  readonly assetId: bigint
  readonly id: string
  readonly version: string
  readonly token: Address
  readonly pricePerCall: bigint
  readonly maxCalls: bigint
  readonly maxCost: bigint
}

/** A checked, quoted workflow, ready to run. */
export type Plan = {
  readonly workflowId: string
  readonly fingerprint: Hex
  readonly steps: readonly PlanStep[]
  readonly models: ReadonlyMap<string, PlannedModel>
  readonly quote: { readonly total: bigint; readonly perModel: readonly ModelQuote[] }
  readonly budget: bigint | undefined
  /** Things that could not be checked statically; they are validated at run time. */
  readonly warnings: readonly PlanIssue[]
}

export type PlanParameters = {
  /** Needed when the workflow has model steps. */
  readonly directory?: ModelDirectory | undefined
  /** The parsed input, used to bound maps over input lists without `maxItems`. */
  readonly input?: unknown
  readonly budget?: bigint | undefined
  readonly policy?:
    | {
        readonly maxPricePerCall?: bigint | undefined
        readonly allowModel?: ((model: ResolvedModel) => boolean) | undefined
      }
    | undefined
  /** Refuse (instead of warn) when a mapping reads an output whose schema is unknown. */
  readonly strict?: boolean | undefined
}

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false })
const validators = new Map<string, ValidateFunction>()

function validatorFor(schema: JSONSchema): (value: unknown) => string[] | undefined {
  const key = JSON.stringify(schema)
  let v = validators.get(key)
  if (!v) {
    const { $schema: _ignored, ...rest } = (typeof schema === 'object' ? schema : {}) as Record<
      string,
      unknown
    >
    v = typeof schema === 'boolean' ? ajv.compile(schema) : ajv.compile(rest)
    validators.set(key, v)
  }
  const fnv = v
  return (value) =>
    fnv(value)
      ? undefined
      : (fnv.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`)
}

type Cost = { total: bigint; perModel: Map<bigint, { model: ResolvedModel; calls: bigint }> }
const noCost = (): Cost => ({ total: 0n, perModel: new Map() })

function addCost(into: Cost, c: Cost): void {
  into.total += c.total
  for (const [k, v] of c.perModel) {
    const cur = into.perModel.get(k)
    into.perModel.set(k, { model: v.model, calls: (cur?.calls ?? 0n) + v.calls })
  }
}

function maxCost(a: Cost, b: Cost): Cost {
  const out: Cost = { total: a.total, perModel: new Map(a.perModel) }
  if (b.total > out.total) out.total = b.total
  for (const [k, v] of b.perModel) {
    const cur = out.perModel.get(k)
    if (!cur || cur.calls < v.calls) out.perModel.set(k, v)
  }
  return out
}

function modelSteps(node: FlowNode, out: { key: string; task: ModelTaskSpec }[]): void {
  switch (node.kind) {
    case 'task':
      if (node.task.kind === 'model') out.push({ key: node.key, task: node.task })
      break
    case 'seq':
      for (const n of node.nodes) modelSteps(n, out)
      break
    case 'parallel':
      for (const b of node.branches) modelSteps(b.body, out)
      break
    case 'branch':
      for (const c of node.cases) modelSteps(c.body, out)
      if (node.otherwise) modelSteps(node.otherwise, out)
      break
    case 'map':
      modelSteps(node.body, out)
      break
  }
}

const planCache = new WeakMap<Workflow, Plan>()
const taskCache = new WeakMap<Workflow, { key: string; task: ModelTaskSpec }[]>()

/** The plan of a workflow without model steps, if one was made already (plans of such workflows never change). */
export function cachedPlan(workflow: Workflow, budget: bigint | undefined): Plan | undefined {
  const p = planCache.get(workflow)
  return p && p.budget === budget ? p : undefined
}

/**
 * Resolves every model a workflow names, checks that each step's mapped input satisfies the model's input JSON
 * Schema (and that every mapped-from path exists), checks each model's output against the step's declared output,
 * and quotes the most each model and the whole run can cost. Refuses with a typed error before anything is paid:
 * `UnknownModelError`, `MissingPathError`, `SchemaMismatchError`, `PolicyViolationError`, `UnboundedQuoteError`,
 * `OverBudgetError`.
 *
 * @example
 * ```ts
 * const p = await plan(docs, { directory, budget: 1_000n })
 * console.log(formatPlan(p))
 * await run(docs, input, { plan: p, caller, settler, budget: 1_000n })
 * ```
 */
export async function plan(workflow: Workflow, parameters: PlanParameters = {}): Promise<Plan> {
  let tasks = taskCache.get(workflow)
  if (!tasks) {
    tasks = []
    modelSteps(workflow.root, tasks)
    taskCache.set(workflow, tasks)
  }
  // A workflow without models plans the same every time; keep its plan.
  if (!tasks.length) {
    const cached = planCache.get(workflow)
    if (cached) {
      if (parameters.budget === cached.budget) return cached
      return { ...cached, budget: parameters.budget }
    }
  }
  const resolved = new Map<string, ResolvedModel>()
  if (tasks.length && !parameters.directory)
    throw new UnknownModelError(
      tasks[0]?.key ?? '',
      `${tasks[0]?.task.refText} (no directory was given to plan)`,
    )
  for (const { key, task } of tasks) {
    const m = await parameters.directory?.resolve(task.ref)
    if (!m) throw new UnknownModelError(key, task.refText)
    const policy = parameters.policy
    if (policy?.maxPricePerCall !== undefined && m.pricePerCall > policy.maxPricePerCall)
      throw new PolicyViolationError(
        `step "${key}" resolves to ${m.id}@${m.version} at ${m.pricePerCall} per call, above the policy's ${policy.maxPricePerCall}; raise the cap or pick a cheaper model.`,
      )
    if (policy?.allowModel && !policy.allowModel(m))
      throw new PolicyViolationError(
        `step "${key}" resolves to ${m.id}@${m.version}, which the policy does not allow.`,
      )
    resolved.set(key, m)
  }

  const issues: PlanIssue[] = []
  const missing: PlanIssue[] = []
  const steps: PlanStep[] = []
  const stepSchemas = new Map<string, JSONSchema | undefined>()
  const models = new Map<string, PlannedModel>()
  const inputSchema = zodJsonSchema(workflow.inputSchema, 'output')
  const strict = parameters.strict ?? false

  const note = (
    stepId: string,
    list: readonly { path: string; message: string; severity: 'error' | 'warning' }[],
  ) => {
    for (const i of list)
      issues.push({
        stepId,
        path: i.path,
        message: i.message,
        severity: strict || i.severity === 'error' ? 'error' : 'warning',
      })
  }

  const visit = (
    node: FlowNode,
    item: JSONSchema | undefined,
    multiplier: bigint | undefined,
    depth: number,
  ): Cost => {
    const sources = { input: inputSchema, item, step: (k: string) => stepSchemas.get(k) }
    switch (node.kind) {
      case 'task': {
        const t = node.task
        const received = selectionSchema(node.select, sources, (at) =>
          missing.push({
            stepId: node.key,
            path: at,
            message: `${at} does not exist in its source's schema`,
            severity: 'error',
          }),
        )
        steps.push({
          stepId: node.key,
          kind: t.kind,
          depth,
          detail: t.kind === 'model' ? t.refText : (t.name ?? 'fn'),
          input: formatSelection(node.select),
        })
        if (t.kind === 'fn') {
          if (t.input && received.schema !== undefined)
            note(node.key, checkSubschema(received.schema, zodJsonSchema(t.input, 'input')))
          stepSchemas.set(node.key, t.output ? zodJsonSchema(t.output, 'output') : undefined)
          return noCost()
        }
        const m = resolved.get(node.key) as ResolvedModel
        if (received.schema === undefined || isUnknownSchema(received.schema)) {
          if (!isUnknownSchema(m.inputSchema))
            note(node.key, [
              {
                path: '',
                message:
                  'what this step receives has no known schema; it is validated at run time before paying',
                severity: 'warning',
              },
            ])
        } else note(node.key, checkSubschema(received.schema, m.inputSchema))
        const outIssues = checkSubschema(m.outputSchema, zodJsonSchema(t.output, 'input'))
        note(
          node.key,
          outIssues.map((i) => ({
            ...i,
            path: `(output)${i.path}`,
            message: `model ${m.id}@${m.version} output: ${i.message}`,
          })),
        )
        stepSchemas.set(node.key, zodJsonSchema(t.output, 'output'))
        if (multiplier === undefined) throw new UnboundedQuoteError(node.key)
        models.set(node.key, {
          stepId: node.key,
          ref: t.refText,
          model: m,
          maxCalls: multiplier,
          maxCost: m.pricePerCall * multiplier,
          validateInput: validatorFor(m.inputSchema),
        })
        return {
          total: m.pricePerCall * multiplier,
          perModel: new Map([[m.assetId, { model: m, calls: multiplier }]]),
        }
      }
      case 'wait':
        steps.push({ stepId: node.key, kind: 'wait', depth, detail: 'external event', input: undefined })
        stepSchemas.set(node.key, zodJsonSchema(node.schema, 'output'))
        return noCost()
      case 'seq': {
        if (node.key)
          steps.push({
            stepId: node.key,
            kind: 'seq',
            depth,
            detail: `${node.nodes.length} steps`,
            input: undefined,
          })
        const c = noCost()
        let last: FlowNode | undefined
        for (const n of node.nodes) {
          addCost(c, visit(n, item, multiplier, node.key ? depth + 1 : depth))
          last = n
        }
        if (node.key && last) stepSchemas.set(node.key, stepSchemas.get(last.key))
        return c
      }
      case 'parallel': {
        steps.push({
          stepId: node.key,
          kind: 'parallel',
          depth,
          detail: node.branches.map((b) => b.name).join(' ∥ '),
          input: undefined,
        })
        const c = noCost()
        const properties: Record<string, JSONSchema> = {}
        for (const b of node.branches) {
          addCost(c, visit(b.body, item, multiplier, depth + 1))
          properties[b.name] = stepSchemas.get(b.body.key) ?? {}
        }
        stepSchemas.set(node.key, {
          type: 'object',
          properties,
          required: node.branches.map((b) => b.name),
          additionalProperties: false,
        })
        return c
      }
      case 'branch': {
        steps.push({
          stepId: node.key,
          kind: 'branch',
          depth,
          detail: `${node.cases.length} case(s)${node.otherwise ? ' + otherwise' : ''}`,
          input: undefined,
        })
        let c = noCost()
        const outs: JSONSchema[] = []
        for (const body of [...node.cases.map((x) => x.body), ...(node.otherwise ? [node.otherwise] : [])]) {
          c = maxCost(c, visit(body, item, multiplier, depth + 1))
          outs.push(stepSchemas.get(body.key) ?? {})
        }
        stepSchemas.set(node.key, outs.some(isUnknownSchema) || !node.otherwise ? undefined : { anyOf: outs })
        return c
      }
      case 'map': {
        const list = selectionSchema(node.list, sources, (at) =>
          missing.push({
            stepId: node.key,
            path: at,
            message: `${at} does not exist in its source's schema`,
            severity: 'error',
          }),
        )
        const ls = list.schema as Record<string, unknown> | undefined
        if (ls && !isUnknownSchema(ls) && ls.type !== 'array' && !ls.items)
          issues.push({
            stepId: node.key,
            path: '',
            message: 'the map list does not select an array',
            severity: 'error',
          })
        let bound: bigint | undefined = node.maxItems !== undefined ? BigInt(node.maxItems) : undefined
        if (bound === undefined && node.list.kind === 'input' && parameters.input !== undefined) {
          const value = compileSelection(node.list)({ input: parameters.input, outputs: {} })
          if (Array.isArray(value)) bound = BigInt(value.length)
        }
        steps.push({
          stepId: node.key,
          kind: 'map',
          depth,
          detail: `over ${formatSelection(node.list)}, concurrency ${node.concurrency}${bound !== undefined ? `, ≤ ${bound} items` : ''}`,
          input: undefined,
        })
        const inner = multiplier === undefined || bound === undefined ? undefined : multiplier * bound
        const itemSchema = (ls?.items as JSONSchema | undefined) ?? undefined
        const c = visit(node.body, itemSchema, inner, depth + 1)
        const bodySchema = stepSchemas.get(node.body.key)
        stepSchemas.set(node.key, bodySchema === undefined ? undefined : { type: 'array', items: bodySchema })
        return c
      }
    }
  }

  const cost = visit(workflow.root, undefined, 1n, 0)
  if (missing.length) throw new MissingPathError(missing)
  const errors = issues.filter((i) => i.severity === 'error')
  if (errors.length) throw new SchemaMismatchError(errors)
  const perModel: ModelQuote[] = [...cost.perModel.values()].map(({ model: m, calls }) => ({
    assetId: m.assetId,
    id: m.id,
    version: m.version,
    token: m.token,
    pricePerCall: m.pricePerCall,
    maxCalls: calls,
    maxCost: calls * m.pricePerCall,
  }))
  const result: Plan = {
    workflowId: workflow.id,
    fingerprint: workflow.fingerprint,
    steps,
    models,
    quote: { total: cost.total, perModel },
    budget: parameters.budget,
    warnings: issues,
  }
  if (parameters.budget !== undefined && cost.total > parameters.budget)
    throw new OverBudgetError(
      cost.total,
      parameters.budget,
      perModel.map(
        (q) => `- ${q.id}@${q.version}: up to ${q.maxCalls} call(s) × ${q.pricePerCall} = ${q.maxCost}`,
      ),
    )
  if (!tasks.length) planCache.set(workflow, result)
  return result
}

/**
 * Renders a plan as text: every step with its model, price and worst-case cost, the total against the budget, and
 * the warnings (listed, or only counted with `{ warnings: 'count' }`).
 *
 * @example
 * ```ts
 * console.log(formatPlan(await plan(docs, { directory, budget: 500n })))
 * ```
 */
export function formatPlan(p: Plan, options: { warnings?: 'list' | 'count' | undefined } = {}): string {
  const lines = [`plan for workflow "${p.workflowId}" (${p.fingerprint.slice(0, 10)}…)`, '']
  for (const s of p.steps) {
    const m = p.models.get(s.stepId)
    const pad = '  '.repeat(s.depth + 1)
    let line = `${pad}${s.stepId}  [${s.kind}] ${s.detail}`
    if (m)
      line += ` → ${m.model.id}@${m.model.version} (asset ${m.model.assetId}) ${m.model.pricePerCall}/call × ≤${m.maxCalls} = ≤${m.maxCost}`
    if (s.input) line += `\n${pad}    input: ${s.input}`
    lines.push(line)
  }
  lines.push('', `quote: at most ${p.quote.total}${p.budget !== undefined ? ` (budget ${p.budget})` : ''}`)
  for (const q of p.quote.perModel)
    lines.push(
      `  ${q.id}@${q.version} (asset ${q.assetId}, token ${q.token}): ≤${q.maxCalls} × ${q.pricePerCall} = ≤${q.maxCost}`,
    )
  if (p.warnings.length && options.warnings === 'count') {
    lines.push(
      '',
      `${p.warnings.length} value constraints (length, pattern, bounds) are checked at run time, before paying`,
    )
  } else if (p.warnings.length) {
    lines.push('', 'warnings (checked at run time):')
    for (const w of p.warnings) lines.push(`  - ${w.stepId}${w.path ? ` at ${w.path}` : ''}: ${w.message}`)
  }
  return lines.join('\n')
}

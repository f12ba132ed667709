import type { Hex } from 'viem'
import type { z } from 'zod'
import { WorkflowDefinitionError } from './errors.js'
import type { AnyTask, FlowNode, Guard, SeqNode, Task, TaskNode } from './nodes.js'
import { recordSelection, type Selection } from './selection.js'
import { hashSnapshotJson } from './snapshotJson.js'

/** What a mapping, a guard or a map's list selector sees. */
export type Scope<I, S, M> = { readonly input: I; readonly steps: S } & M
/** The extra scope inside a map body. */
export type ItemScope<T> = { readonly item: T; readonly index: number }
type NoScope = Record<never, never>
type AddStep<S, Id extends string, Out> = S & { readonly [K in Id]: Out }

/** A branch body (a step, a wait or a sub-flow) whose output is `Out`. Placed by `parallel`, `branch` or `map`. */
export type Branch<Out> = {
  readonly '~out'?: Out
  readonly make: (key: string) => FlowNode
}
/** One case of `branch`. `Else` marks the `otherwise` case. */
export type Case<Out, Else extends boolean = false> = {
  readonly '~out'?: Out
  readonly else: Else
  readonly guard: Guard | undefined
  readonly branch: Branch<Out>
}

type BranchOut<B> = B extends Branch<infer O> ? O : never
type CaseOut<C> = C extends Case<infer O, boolean> ? O : never
type HasElse<C> = C extends Case<unknown, true> ? true : never

/** A compiled workflow: typed input (its zod schema) and output. Run it with `run()`. */
export type Workflow<W extends z.ZodType = z.ZodType, O = unknown> = {
  readonly kind: 'workflow'
  readonly id: string
  readonly inputSchema: W
  readonly root: SeqNode
  readonly output: Selection
  /** keccak256 of the workflow's structure; a stored run only resumes with the workflow that made it. */
  readonly fingerprint: Hex
  readonly '~types'?: { readonly input: z.input<W>; readonly output: O }
}

/** The raw input a workflow's `run()` takes. */
export type WorkflowInput<T> = T extends Workflow<infer W, unknown> ? z.input<W> : never
/** The output a workflow produces. */
export type WorkflowOutput<T> = T extends Workflow<z.ZodType, infer O> ? O : never

type FlowState = {
  readonly id: string
  readonly schema: z.ZodType
  readonly prefix: string
  readonly nodes: readonly FlowNode[]
  readonly visible: ReadonlyMap<string, string>
  readonly last: { readonly name: string; readonly key: string } | undefined
  readonly inMap: boolean
}

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/

function checkName(state: FlowState, name: string): string {
  if (!NAME.test(name))
    throw new WorkflowDefinitionError(
      `step id "${name}" is not allowed; use letters, digits, "_" and "-", starting with a letter or "_".`,
    )
  if (state.visible.has(name))
    throw new WorkflowDefinitionError(`step id "${name}" is used twice; give every step its own id.`)
  return state.prefix ? `${state.prefix}.${name}` : name
}

const defaultSelection = (state: FlowState): Selection =>
  state.last
    ? { kind: 'step', name: state.last.name, key: state.last.key, path: [] }
    : state.inMap
      ? { kind: 'item', path: [] }
      : { kind: 'input', path: [] }

function select(state: FlowState, map: ((scope: never) => unknown) | undefined): Selection {
  return map ? recordSelection(map, (name) => state.visible.get(name)) : defaultSelection(state)
}

/**
 * Builds the steps of a workflow or of a sub-flow. Immutable: every call returns a new builder.
 * `I` is the parsed workflow input, `S` the outputs of the steps visible so far, `L` the last output, `M` the
 * extra scope inside a map body.
 */
export class Flow<W extends z.ZodType, S, L, M = NoScope> {
  /** @internal */
  readonly state: FlowState
  constructor(state: FlowState) {
    this.state = state
  }

  private push<S2, L2>(name: string, key: string, node: FlowNode): Flow<W, S2, L2, M> {
    const visible = new Map(this.state.visible)
    visible.set(name, key)
    return new Flow({ ...this.state, nodes: [...this.state.nodes, node], visible, last: { name, key } })
  }

  /**
   * Appends a step (not named `then`, so a flow is never mistaken for a promise). Without `map` it receives the previous step's output (or the workflow input / map item).
   *
   * @example
   * ```ts
   * workflow({ id: 'doc', input: z.object({ image: z.string() }) })
   *   .step('ocr', ocr, ($) => ({ image: $.input.image }))
   *   .step('words', countWords) // receives ocr's output
   * ```
   */
  step<Id extends string, Out>(id: Id, task: Task<L, Out>): Flow<W, AddStep<S, Id, Out>, Out, M>
  step<Id extends string, In, Out>(
    id: Id,
    task: Task<In, Out>,
    map: (scope: Scope<z.output<W>, S, M>) => NoInfer<In>,
  ): Flow<W, AddStep<S, Id, Out>, Out, M>
  step(id: string, task: AnyTask, map?: (scope: never) => unknown): Flow<W, unknown, unknown, M> {
    const key = checkName(this.state, id)
    const node: TaskNode = { kind: 'task', key, task, select: select(this.state, map) }
    return this.push(id, key, node)
  }

  /**
   * Runs branches at the same time and joins them; the output is `{ [branch]: output }`. A wait inside one branch
   * suspends the run once the other branches are done; resume continues that branch.
   *
   * @example
   * ```ts
   * .parallel('analysis', (b) => ({
   *   sentiment: b.step(sentiment, ($) => ({ text: $.steps.ocr.text })),
   *   entities: b.flow((f) => f.step('ner', ner, ($) => ({ text: $.steps.ocr.text })).step('top', top3)),
   * }))
   * ```
   */
  parallel<Id extends string, B extends Record<string, Branch<unknown>>>(
    id: Id,
    build: (b: BranchBuilder<W, S, L, M>) => B,
  ): Flow<W, AddStep<S, Id, { [K in keyof B]: BranchOut<B[K]> }>, { [K in keyof B]: BranchOut<B[K]> }, M> {
    const key = checkName(this.state, id)
    const branches = Object.entries(build(new BranchBuilder(this.state))).map(([name, br]) => {
      if (!NAME.test(name))
        throw new WorkflowDefinitionError(`parallel branch name "${name}" is not allowed.`)
      return { name, body: br.make(`${key}.${name}`) }
    })
    if (!branches.length) throw new WorkflowDefinitionError(`parallel "${id}" has no branches.`)
    return this.push(id, key, { kind: 'parallel', key, branches })
  }

  /**
   * Runs the first case whose guard holds (or `otherwise`). The output is that case's output, or `undefined` when
   * nothing matched and there is no `otherwise`.
   *
   * @example
   * ```ts
   * .branch('route', (b) => [
   *   b.when(($) => $.steps.lang.code === 'en', b.step(englishSummary)),
   *   b.otherwise(b.step(translateThenSummarise)),
   * ])
   * ```
   */
  branch<Id extends string, C extends readonly Case<unknown, boolean>[]>(
    id: Id,
    build: (b: CaseBuilder<W, S, L, M>) => C,
  ): Flow<
    W,
    AddStep<S, Id, CaseOut<C[number]> | ([HasElse<C[number]>] extends [never] ? undefined : never)>,
    CaseOut<C[number]> | ([HasElse<C[number]>] extends [never] ? undefined : never),
    M
  > {
    const key = checkName(this.state, id)
    const list = build(new CaseBuilder(this.state))
    const cases: { guard: Guard; body: FlowNode }[] = []
    let otherwise: FlowNode | undefined
    list.forEach((c, i) => {
      if (c.else) {
        if (otherwise || i !== list.length - 1)
          throw new WorkflowDefinitionError(`branch "${id}": otherwise() must be the last case, once.`)
        otherwise = c.branch.make(`${key}.otherwise`)
      } else cases.push({ guard: c.guard as Guard, body: c.branch.make(`${key}.${i}`) })
    })
    return this.push(id, key, { kind: 'branch', key, cases, otherwise, visible: this.state.visible })
  }

  /**
   * Runs `body` once per element of a list, at most `concurrency` at a time; the output is the list of results in
   * order. `list` must select an array (it is checked by the planner); `maxItems` bounds the quote.
   *
   * @example
   * ```ts
   * .map('pages', ($) => $.input.pages, (b) => b.step(ocr, ($) => ({ image: $.item.png })), {
   *   concurrency: 4,
   *   maxItems: 50,
   * })
   * ```
   */
  map<Id extends string, T, Out>(
    id: Id,
    list: (scope: Scope<z.output<W>, S, M>) => readonly T[],
    body: (b: BranchBuilder<W, S, T, M & ItemScope<T>>) => Branch<Out>,
    options: { readonly concurrency?: number; readonly maxItems?: number } = {},
  ): Flow<W, AddStep<S, Id, Out[]>, Out[], M> {
    const key = checkName(this.state, id)
    const concurrency = options.concurrency ?? 1
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new WorkflowDefinitionError(`map "${id}": concurrency must be a positive integer.`)
    const inner: FlowState = { ...this.state, last: undefined, inMap: true }
    const node: FlowNode = {
      kind: 'map',
      key,
      list: select(this.state, list as (scope: never) => unknown),
      body: body(new BranchBuilder(inner)).make(`${key}[]`),
      concurrency,
      maxItems: options.maxItems,
    }
    return this.push(id, key, node)
  }

  /**
   * Waits for an external event (an approval, a webhook). The run suspends; `resume()` delivers the payload,
   * which is parsed with `schema` first. Not available inside `map`.
   *
   * @example
   * ```ts
   * .wait('approval', z.object({ approved: z.boolean(), by: z.string() }))
   * ```
   */
  wait<Id extends string, PS extends z.ZodType>(
    id: Id,
    schema: PS,
  ): Flow<W, AddStep<S, Id, z.output<PS>>, z.output<PS>, M> {
    if (this.state.inMap)
      throw new WorkflowDefinitionError(
        `wait "${id}" is inside a map; waits can only be in sequences, parallels and branches.`,
      )
    const key = checkName(this.state, id)
    return this.push(id, key, { kind: 'wait', key, schema })
  }

  /**
   * Ends the workflow with an output assembled from the input and the steps.
   *
   * @example
   * ```ts
   * .output(($) => ({ text: $.steps.ocr.text, mood: $.steps.analysis.sentiment.label }))
   * ```
   */
  output<O>(map: (scope: Scope<z.output<W>, S, NoScope>) => O): Workflow<W, O> {
    return finish(this.state, select(this.state, map as (scope: never) => unknown))
  }

  /** Ends the workflow; its output is the last step's output. */
  build(): Workflow<W, L> {
    return finish(this.state, defaultSelection(this.state))
  }
}

/** Makes branch bodies for `parallel` and `map`, in the scope of the enclosing flow. */
export class BranchBuilder<W extends z.ZodType, S, L, M> {
  /** @internal */
  readonly state: FlowState
  constructor(state: FlowState) {
    this.state = state
  }

  /** One step. Without `map` it receives the enclosing flow's last output (or the map item). */
  step<Out>(task: Task<L, Out>): Branch<Out>
  step<In, Out>(task: Task<In, Out>, map: (scope: Scope<z.output<W>, S, M>) => NoInfer<In>): Branch<Out>
  step(task: AnyTask, map?: (scope: never) => unknown): Branch<unknown> {
    const sel = select(this.state, map)
    return { make: (key) => ({ kind: 'task', key, task, select: sel }) }
  }

  /** Several steps in sequence; they see the enclosing steps and their own. */
  flow<S2, L2>(build: (f: Flow<W, S, L, M>) => Flow<W, S2, L2, M>): Branch<L2> {
    return {
      make: (key) => {
        const sub = build(new Flow({ ...this.state, prefix: key, nodes: [] })).state
        if (!sub.nodes.length) throw new WorkflowDefinitionError(`sub-flow "${key}" has no steps.`)
        return { kind: 'seq', key, nodes: sub.nodes }
      },
    }
  }

  /** Waits for an external event inside this branch (not inside `map`). */
  wait<PS extends z.ZodType>(schema: PS): Branch<z.output<PS>> {
    if (this.state.inMap) throw new WorkflowDefinitionError('a wait cannot be inside a map.')
    return { make: (key) => ({ kind: 'wait', key, schema }) }
  }
}

/** Makes the cases of `branch`. */
export class CaseBuilder<W extends z.ZodType, S, L, M> extends BranchBuilder<W, S, L, M> {
  /** The case runs when `guard` holds (cases are tried in order). */
  when<Out>(guard: (scope: Scope<z.output<W>, S, M>) => boolean, branch: Branch<Out>): Case<Out, false> {
    return { else: false, guard: guard as Guard, branch }
  }
  /** The case that runs when no guard holds. */
  otherwise<Out>(branch: Branch<Out>): Case<Out, true> {
    return { else: true, guard: undefined, branch }
  }
}

function collectKeys(node: FlowNode, seen: Set<string>): void {
  if (node.key) {
    if (seen.has(node.key)) throw new WorkflowDefinitionError(`step key "${node.key}" is used twice.`)
    seen.add(node.key)
  }
  switch (node.kind) {
    case 'seq':
      for (const n of node.nodes) collectKeys(n, seen)
      break
    case 'parallel':
      for (const b of node.branches) collectKeys(b.body, seen)
      break
    case 'branch':
      for (const c of node.cases) collectKeys(c.body, seen)
      if (node.otherwise) collectKeys(node.otherwise, seen)
      break
    case 'map':
      collectKeys(node.body, seen)
      break
  }
}

function structure(node: FlowNode): unknown {
  switch (node.kind) {
    case 'task': {
      const t = node.task
      return ['task', node.key, t.kind, t.kind === 'model' ? t.refText : (t.name ?? ''), node.select]
    }
    case 'wait':
      return ['wait', node.key]
    case 'seq':
      return ['seq', node.key, node.nodes.map(structure)]
    case 'parallel':
      return ['parallel', node.key, node.branches.map((b) => [b.name, structure(b.body)])]
    case 'branch':
      return [
        'branch',
        node.key,
        node.cases.map((c) => structure(c.body)),
        node.otherwise ? structure(node.otherwise) : null,
      ]
    case 'map':
      return ['map', node.key, node.list, structure(node.body), node.concurrency, node.maxItems ?? null]
  }
}

function finish<W extends z.ZodType, O>(state: FlowState, output: Selection): Workflow<W, O> {
  if (!state.nodes.length) throw new WorkflowDefinitionError(`workflow "${state.id}" has no steps.`)
  const root: SeqNode = { kind: 'seq', key: '', nodes: state.nodes }
  collectKeys(root, new Set())
  return {
    kind: 'workflow',
    id: state.id,
    inputSchema: state.schema as W,
    root,
    output,
    fingerprint: hashSnapshotJson(['tributary.workflow/1', state.id, structure(root), output]),
  }
}

/**
 * Starts a workflow definition. The input schema (zod v4) types `$.input` in every mapping and parses the input of
 * every run.
 *
 * @example
 * ```ts
 * import { z } from 'zod'
 * import { fn, model, workflow } from 'tributary/workflow'
 *
 * const docs = workflow({ id: 'doc-insights', input: z.object({ image: z.string() }) })
 *   .step('ocr', model('acme/ocr@^1.2', { input: OcrIn, output: OcrOut }), ($) => ({ image: $.input.image }))
 *   .step('sentiment', model({ capability: 'sentiment', maxPricePerCall: 10n }, { input: TextIn, output: Mood }),
 *     ($) => ({ text: $.steps.ocr.text }))
 *   .output(($) => ({ text: $.steps.ocr.text, mood: $.steps.sentiment.label }))
 * ```
 */
export function workflow<W extends z.ZodType>(parameters: {
  readonly id: string
  readonly input: W
}): Flow<W, NoScope, z.output<W>, NoScope> {
  return new Flow({
    id: parameters.id,
    schema: parameters.input,
    prefix: '',
    nodes: [],
    visible: new Map(),
    last: undefined,
    inMap: false,
  })
}

import { type ActorSystem, assign, fromPromise, setup } from 'xstate'

// biome-ignore lint/suspicious/noExplicitAny: the system of any actor
type AnyActorSystem = ActorSystem<any>

import type { FlowNode, SeqNode } from './nodes.js'
import type { RunRuntime } from './runtime.js'
import { guardScope, selectorOf, stepFailure } from './runtime.js'
import type { Env } from './selection.js'
import type { Workflow } from './workflow.js'

/** The machine's context: the parsed input and every output so far, by step key. Small and serialisable. */
export type WorkflowMachineContext = {
  readonly input: unknown
  readonly outputs: Readonly<Record<string, unknown>>
  readonly failure?: { readonly stepId: string; readonly name: string; readonly message: string }
}

/** Resumes a waiting step: `{ type: 'resume:<stepId>', payload }` (payload already parsed). */
export type WorkflowMachineEvent = { readonly type: `resume:${string}`; readonly payload: unknown }

const runtimes = new WeakMap<AnyActorSystem, RunRuntime>()

/** Binds a run's runtime to an actor system before the actor starts. */
export function bindRuntime(system: AnyActorSystem, runtime: RunRuntime): void {
  runtimes.set(system, runtime)
}

function runtimeOf(system: AnyActorSystem): RunRuntime {
  const rt = runtimes.get(system)
  if (!rt)
    throw new Error(
      'tributary: this workflow machine was started without a run; start it with run() or resume().',
    )
  return rt
}

/**
 * Runs one task step of a workflow machine. Its input is the step's mapped input; the step is the invoke id (the
 * actor's own id), so nothing else travels in the snapshot.
 */
export const workflowTaskActor = fromPromise<unknown, unknown>(({ input, system, self, signal }) => {
  const rt = runtimeOf(system)
  return rt.runTask(rt.nodes.get(self.id) as Extract<FlowNode, { kind: 'task' }>, input, self.id, 0, signal)
})

/** Runs one map step of a workflow machine over its items (the step is the invoke id). */
export const workflowMapActor = fromPromise<
  unknown[],
  { readonly input: unknown; readonly outputs: Readonly<Record<string, unknown>> }
>(({ input, system, self, signal }) =>
  runtimeOf(system).runMapActor(self.id, { input: input.input, outputs: input.outputs }, signal),
)

type Ctx = WorkflowMachineContext
type Cfg = Record<string, unknown>

const FAILED = '#tributary.failed'

function fail(key: string) {
  return [
    ({ event, system }: { event: { error?: unknown }; system: AnyActorSystem }) => {
      const rt = runtimes.get(system)
      if (rt && rt.error === undefined) rt.error = stepFailure(key, event.error)
    },
    assign<Ctx, { type: string }, undefined, { type: string }, never>(({ event }) => {
      const e = (event as { error?: unknown }).error
      return {
        failure: {
          stepId: key,
          name: e instanceof Error ? e.name : 'Error',
          message: e instanceof Error ? e.message : String(e),
        },
      }
    }),
  ]
}

type Ev = { output?: unknown; payload?: unknown }
const setOutput = (key: string, value: (ctx: Ctx, event: Ev) => unknown) =>
  assign<Ctx, { type: string }, undefined, { type: string }, never>(({ context, event }) => ({
    outputs: { ...context.outputs, [key]: value(context, event as Ev) },
  }))

/** Compiles a node into an XState state config; `next` is the sibling state to go to when it is done. */
function compileNode(node: FlowNode, next: string, after: readonly unknown[]): Cfg {
  switch (node.kind) {
    case 'task': {
      const sel = selectorOf(node.select)
      const key = node.key
      return {
        invoke: {
          id: key,
          src: 'task',
          input: ({ context }: { context: Ctx }) => sel(context as Env),
          onDone: { target: next, actions: [setOutput(key, (_c, e) => e.output), ...after] },
          onError: { target: FAILED, actions: fail(key) },
        },
      }
    }
    case 'map': {
      const key = node.key
      return {
        invoke: {
          id: key,
          src: 'map',
          input: ({ context }: { context: Ctx }) => ({ input: context.input, outputs: context.outputs }),
          onDone: { target: next, actions: [setOutput(key, (_c, e) => e.output), ...after] },
          onError: { target: FAILED, actions: fail(key) },
        },
      }
    }
    case 'wait':
      return {
        tags: ['tributary.wait', `tributary.wait:${node.key}`],
        on: {
          [`resume:${node.key}`]: {
            target: next,
            actions: [setOutput(node.key, (_c, e) => e.payload), ...after],
          },
        },
      }
    case 'seq': {
      const last = node.nodes[node.nodes.length - 1] as FlowNode
      const alias = node.key ? [setOutput(node.key, (c) => c.outputs[last.key])] : []
      return { ...compileSeq(node), onDone: { target: next, actions: [...alias, ...after] } }
    }
    case 'parallel': {
      const states: Record<string, Cfg> = {}
      for (const b of node.branches)
        states[b.name] = {
          initial: 'run',
          states: { run: compileNode(b.body, 'done', []), done: { type: 'final' } },
        }
      const join = setOutput(node.key, (c) => {
        const o: Record<string, unknown> = {}
        for (const b of node.branches) o[b.name] = c.outputs[b.body.key]
        return o
      })
      return { type: 'parallel', states, onDone: { target: next, actions: [join, ...after] } }
    }
    case 'branch': {
      const states: Record<string, Cfg> = {}
      const always: Cfg[] = []
      const bodies = [...node.cases.map((c) => c.body), ...(node.otherwise ? [node.otherwise] : [])]
      node.cases.forEach((c, i) => {
        always.push({
          guard: ({ context }: { context: Ctx }) => c.guard(guardScope(node, context as Env) as never),
          target: `c${i}`,
        })
      })
      always.push({ target: node.otherwise ? `c${node.cases.length}` : 'done' })
      bodies.forEach((body, i) => {
        states[`c${i}`] = compileNode(body, 'done', [setOutput(node.key, (c) => c.outputs[body.key])])
      })
      return {
        initial: 'choose',
        states: { choose: { always }, ...states, done: { type: 'final' } },
        onDone: { target: next, actions: [...after] },
      }
    }
  }
}

function seqStates(node: SeqNode, last: string): Record<string, Cfg> {
  const states: Record<string, Cfg> = {}
  node.nodes.forEach((n, i) => {
    states[`s${i}`] = compileNode(n, i === node.nodes.length - 1 ? last : `s${i + 1}`, [])
  })
  return states
}

function compileSeq(node: SeqNode): Cfg {
  return { initial: 's0', states: { ...seqStates(node, 'done'), done: { type: 'final' } } }
}

const base = setup({
  types: {
    context: {} as WorkflowMachineContext,
    input: {} as { readonly input: unknown },
    events: {} as WorkflowMachineEvent,
  },
  actors: { task: workflowTaskActor, map: workflowMapActor },
})

function build(workflow: Workflow) {
  // The top-level steps sit directly under the root (no wrapping state): fewer nodes per transition.
  const config = {
    id: 'tributary',
    context: ({ input }: { input: { readonly input: unknown } }) => ({ input: input.input, outputs: {} }),
    initial: 's0',
    states: {
      ...seqStates(workflow.root, 'succeeded'),
      succeeded: { type: 'final' },
      failed: { type: 'final' },
    },
  }
  return base.createMachine(config as unknown as Parameters<typeof base.createMachine>[0])
}

/** The XState machine a workflow compiles to. */
export type WorkflowMachine = ReturnType<typeof build>

const machines = new WeakMap<Workflow, WorkflowMachine>()

/**
 * Compiles a workflow into an XState v5 machine made with `setup({ actors })`: one state per step, `type: 'parallel'`
 * for parallel steps, guarded transitions for branches, an invoked actor per task or map, and a tagged state per wait
 * (`tributary.wait:<stepId>`). Its snapshots persist with `getPersistedSnapshot()` and it can be inspected with
 * XState's tools. Compiled once per workflow. Run it with `run()`, which binds the adapters.
 *
 * @example
 * ```ts
 * import { createActor } from 'xstate'
 * const machine = compileWorkflow(docs)
 * console.log(machine.definition) // the statechart
 * ```
 */
export function compileWorkflow(workflow: Workflow): WorkflowMachine {
  let m = machines.get(workflow)
  if (!m) {
    m = build(workflow)
    machines.set(workflow, m)
  }
  return m
}

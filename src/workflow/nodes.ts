import type { Hex } from 'viem'
import type { z } from 'zod'
import type { Selection } from './selection.js'
import type { ModelRef, StepOptions } from './types.js'

/** What a local function step receives besides its input. */
export type StepContext = {
  readonly runId: Hex
  readonly stepId: string
  /** The item index inside a map, 0 elsewhere. */
  readonly item: number
  /** 1 on the first attempt. */
  readonly attempt: number
  /** Aborted on cancellation, on timeout of this attempt, or when the run stops. */
  readonly signal: AbortSignal
}

/** Phantom types carried by a task: what it takes and what it gives. */
export type TaskTypes<In, Out> = { readonly in: (input: In) => void; readonly out: Out }

export type ModelTaskSpec = {
  readonly kind: 'model'
  readonly ref: ModelRef
  readonly refText: string
  readonly input: z.ZodType | undefined
  readonly output: z.ZodType
  readonly options: StepOptions
}

export type FnTaskSpec = {
  readonly kind: 'fn'
  readonly run: (input: unknown, ctx: StepContext) => unknown
  readonly name: string | undefined
  readonly input: z.ZodType | undefined
  readonly output: z.ZodType | undefined
  readonly options: StepOptions
}

/** A unit of work: a marketplace model call or a local function. `In`/`Out` exist only in types. */
export type Task<In, Out> = (ModelTaskSpec | FnTaskSpec) & { readonly '~types'?: TaskTypes<In, Out> }

export type AnyTask = ModelTaskSpec | FnTaskSpec

/** A guard receives the same scope a mapping does, with real values. */
export type Guard = (scope: never) => boolean

export type TaskNode = {
  readonly kind: 'task'
  readonly key: string
  readonly task: AnyTask
  readonly select: Selection
}
export type WaitNode = { readonly kind: 'wait'; readonly key: string; readonly schema: z.ZodType }
export type SeqNode = { readonly kind: 'seq'; readonly key: string; readonly nodes: readonly FlowNode[] }
export type ParallelNode = {
  readonly kind: 'parallel'
  readonly key: string
  readonly branches: readonly { readonly name: string; readonly body: FlowNode }[]
}
export type BranchNode = {
  readonly kind: 'branch'
  readonly key: string
  readonly cases: readonly { readonly guard: Guard; readonly body: FlowNode }[]
  readonly otherwise: FlowNode | undefined
  /** step name → output key, as the guards see `$.steps` */
  readonly visible: ReadonlyMap<string, string>
}
export type MapNode = {
  readonly kind: 'map'
  readonly key: string
  readonly list: Selection
  readonly body: FlowNode
  readonly concurrency: number
  readonly maxItems: number | undefined
}

/** The runtime tree a workflow compiles from. Every node writes its output under `key`. */
export type FlowNode = TaskNode | WaitNode | SeqNode | ParallelNode | BranchNode | MapNode

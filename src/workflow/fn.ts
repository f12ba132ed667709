import type { z } from 'zod'
import type { StepContext, Task } from './nodes.js'
import type { StepOptions } from './types.js'

export type FnParameters<In, Out> = StepOptions & {
  /** Shown in plans and events. */
  readonly name?: string
  /** Lets the planner check what the step receives. */
  readonly input?: z.ZodType<In>
  /** Lets the planner check mappings that read this step's output. Not re-validated at run time. */
  readonly output?: z.ZodType<Awaited<Out>>
}

/**
 * A local function as a step. Its input type comes from the function's parameter; it gets a `StepContext` with an
 * AbortSignal, the attempt number and ids. Defaults to one attempt; set `retry` to retry it.
 *
 * @example
 * ```ts
 * const words = fn(async (x: { text: string }) => ({ count: x.text.split(/\s+/).length }), {
 *   output: z.object({ count: z.number() }),
 * })
 * ```
 */
export function fn<In, Out>(
  run: (input: In, ctx: StepContext) => Out,
  parameters: FnParameters<In, Out> = {},
): Task<In, Awaited<Out>> {
  const { name, input, output, ...options } = parameters
  return {
    kind: 'fn',
    run: run as (input: unknown, ctx: StepContext) => unknown,
    name,
    input,
    output,
    options,
  }
}

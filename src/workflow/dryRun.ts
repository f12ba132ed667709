import type { z } from 'zod'
import { InvalidInputError } from './errors.js'
import { formatPlan, type Plan, type PlanParameters, plan } from './plan.js'
import type { Workflow } from './workflow.js'

export type DryRunParameters = Omit<PlanParameters, 'input'> & {
  /** Where the plan is printed; `false` to only return it. Default: `console.log`. */
  readonly print?: ((text: string) => void) | false | undefined
}

export type DryRunReturnType = { readonly plan: Plan; readonly text: string }

/**
 * Plans a workflow for an input without running it — resolve, type-check, quote — and prints the plan. Throws the
 * planner's typed errors (nothing is ever paid).
 *
 * @example
 * ```ts
 * await dryRun(docs, { image }, { directory, budget: 1_000n })
 * // plan for workflow "doc" (0x1f2e…)
 * //   ocr  [model] acme/ocr@^1.2 → acme/ocr@1.4.1 (asset 2) 6/call × ≤1 = ≤6
 * // ...
 * ```
 */
export async function dryRun<W extends z.ZodType>(
  workflow: Workflow<W, unknown>,
  input: z.input<W>,
  parameters: DryRunParameters = {},
): Promise<DryRunReturnType> {
  const parsed = workflow.inputSchema.safeParse(input)
  if (!parsed.success)
    throw new InvalidInputError(
      `the input of workflow "${workflow.id}"`,
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    )
  const { print = console.log, ...rest } = parameters
  const p = await plan(workflow, { ...rest, input: parsed.data })
  const text = formatPlan(p)
  if (print) print(text)
  return { plan: p, text }
}

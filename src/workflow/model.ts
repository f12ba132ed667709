import type { z } from 'zod'
import type { Task } from './nodes.js'
import { formatModelRef, parseModelRef } from './parseModelRef.js'
import type { ModelRef, StepOptions } from './types.js'

export type ModelParameters<IS extends z.ZodType, OS extends z.ZodType> = StepOptions & {
  /** What the step sends; its inferred type is what the mapping must produce. */
  readonly input: IS
  /** What the step expects back; the model's output is parsed with it (a trust boundary). */
  readonly output: OS
}

/**
 * A marketplace model as a step: by `'id@range'` or by capability query. The planner resolves it, checks the
 * mapped input against the model's input JSON Schema and the model's output against `output`, and quotes it.
 *
 * @example
 * ```ts
 * const ocr = model('acme/ocr@^1.2', {
 *   input: z.object({ image: z.string() }),
 *   output: z.object({ text: z.string() }),
 *   retry: { maxAttempts: 4 },
 *   timeoutMs: 30_000,
 * })
 * const cheapSentiment = model({ capability: 'sentiment', maxPricePerCall: 20n }, { input, output })
 * ```
 */
export function model<IS extends z.ZodType, OS extends z.ZodType>(
  ref: string | ModelRef,
  parameters: ModelParameters<IS, OS>,
): Task<z.input<IS>, z.output<OS>> {
  const parsed = parseModelRef(ref)
  const { input, output, ...options } = parameters
  return { kind: 'model', ref: parsed, refText: formatModelRef(parsed), input, output, options }
}

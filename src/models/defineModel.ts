import type { Hex } from 'viem'
import * as z from 'zod'
import {
  CAPABILITY_PATTERN,
  CARD_SCHEMA,
  type Card,
  checkTerms,
  hashCard,
  type JsonSchema,
  LIMITS,
  MODEL_ID_PATTERN,
  type ModelKind,
  type ModelTerms,
  termsToCard,
  VERSION_PATTERN,
} from '../market/card.js'
import {
  InvalidModelDefinitionError,
  InvalidModelInputError,
  InvalidModelOutputError,
  InvalidTermsError,
  ModelAbortedError,
  ModelNotRunnableError,
  ModelRunError,
  ModelTimeoutError,
  type ValidationIssue,
} from './errors.js'

/** What `run` receives besides its input: a signal that fires on timeout or caller abort. */
export type ModelRunContext = { signal: AbortSignal }

/** Per-call options of {@link ModelDefinition.handler}. */
export type ModelCallOptions = {
  /** The caller's signal; aborting it rejects with {@link ModelAbortedError} and aborts `run`. */
  signal?: AbortSignal | undefined
  /** Overrides the definition's `timeoutMs` for this call. */
  timeoutMs?: number | undefined
}

/** Model lineage: ids of the models and datasets this one was derived from or trained on. */
export type ModelLineage = { parents: readonly string[] }

type CommonParameters = {
  /** `publisher/name`, lower case: `tributary/sentiment`. */
  id: string
  /** Semantic version of the model and its card. */
  version: string
  description: string
  /** Capability tags used by discovery: `ocr`, `text.sentiment`. */
  capabilities: readonly string[]
  terms: ModelTerms
  /** Parent ids (resolved to on-chain asset ids by `publish()`); none by default. */
  lineage?: ModelLineage | undefined
  /** Default time budget of one call; 30 s unless set. */
  timeoutMs?: number | undefined
  /** Frees what the model holds (workers, WASM instances). Called by {@link ModelDefinition.close}. */
  close?: (() => Promise<void> | void) | undefined
}

/** Parameters of a callable model. */
export type DefineModelParameters<TInput extends z.ZodType, TOutput extends z.ZodType> = CommonParameters & {
  kind?: 'model' | undefined
  input: TInput
  output: TOutput
  run: (input: z.output<TInput>, ctx: ModelRunContext) => Promise<z.input<TOutput>>
}

/** Parameters of a dataset: listed so that models trained on it can name it as a parent; never called. */
export type DefineDatasetParameters = CommonParameters & {
  kind: 'dataset'
  /** Optional schema of one record, published in the card as `output`. */
  output?: z.ZodType | undefined
  input?: undefined
  run?: undefined
}

/** A defined model: its card, the card hash, and a validating, time-limited handler. */
export type ModelDefinition<TInput extends z.ZodType = z.ZodType, TOutput extends z.ZodType = z.ZodType> = {
  readonly id: string
  readonly version: string
  readonly kind: ModelKind
  /** The card without an endpoint; a provider adds its endpoint with {@link ModelDefinition.cardFor}. */
  readonly card: Card
  /** `hashCard(card)`. */
  readonly hash: Hex
  readonly terms: ModelTerms
  readonly lineage: ModelLineage
  readonly input: TInput
  readonly output: TOutput
  readonly timeoutMs: number
  /** False for datasets: {@link ModelDefinition.handler} then always throws {@link ModelNotRunnableError}. */
  readonly runnable: boolean
  /** The card as served at `endpoint` (the one whose hash `publish()` registers). */
  cardFor(parameters: { endpoint: string }): Card
  /** The hash of `card`, or of this definition's card: keccak256 of its canonical JSON. */
  cardHash(card?: Card): Hex
  /**
   * Validates untrusted input, runs the model under a timeout and the caller's signal, validates the output.
   * Throws {@link InvalidModelInputError}, {@link ModelTimeoutError}, {@link ModelAbortedError},
   * {@link ModelRunError}, {@link InvalidModelOutputError} or {@link ModelNotRunnableError}.
   */
  handler(input: unknown, options?: ModelCallOptions): Promise<z.output<TOutput>>
  /** {@link ModelDefinition.handler} typed for in-process callers. */
  call(input: z.input<TInput>, options?: ModelCallOptions): Promise<z.output<TOutput>>
  /** Releases the model's resources; safe to call more than once. */
  close(): Promise<void>
}

/** The input type a model accepts from callers. */
export type ModelInput<D> = D extends ModelDefinition<infer I, z.ZodType> ? z.input<I> : never
/** The output type a model returns. */
export type ModelOutput<D> = D extends ModelDefinition<z.ZodType, infer O> ? z.output<O> : never

const DEFAULT_TIMEOUT_MS = 30_000

function isZodSchema(v: unknown): v is z.ZodType {
  return (
    typeof v === 'object' && v !== null && '_zod' in v && typeof (v as z.ZodType).safeParse === 'function'
  )
}

function toJsonSchema(schema: z.ZodType, io: 'input' | 'output', issues: ValidationIssue[], field: string) {
  try {
    return z.toJSONSchema(schema, { io, unrepresentable: 'throw' }) as JsonSchema
  } catch (e) {
    issues.push({
      path: [field],
      message: `cannot be written as JSON Schema (${e instanceof Error ? e.message : String(e)}); use JSON-representable types (amounts as strings)`,
    })
    return undefined
  }
}

/**
 * Defines a model (or a dataset): checks its id, version, capabilities, lineage and terms against the
 * registry's rules, writes its card (JSON Schema from the zod schemas, amounts as decimal strings) and
 * wraps `run` in a handler that validates input and output and enforces a timeout.
 *
 * @example
 * ```ts
 * import * as z from 'zod'
 * import { defineModel } from 'tributary'
 *
 * export const shout = defineModel({
 *   id: 'acme/shout',
 *   version: '1.0.0',
 *   description: 'Upper-cases text.',
 *   capabilities: ['text.transform'],
 *   input: z.object({ text: z.string().max(10_000) }),
 *   output: z.object({ text: z.string() }),
 *   terms: { pricePerCall: 1_000n, payees: [{ address: '0x…', shareBps: 10_000 }], royaltyBps: 500 },
 *   lineage: { parents: [] },
 *   run: async ({ text }) => ({ text: text.toUpperCase() }),
 * })
 * const { text } = await shout.call({ text: 'hi' }) // 'HI'
 * ```
 */
export function defineModel<TInput extends z.ZodType, TOutput extends z.ZodType>(
  parameters: DefineModelParameters<TInput, TOutput>,
): ModelDefinition<TInput, TOutput>
export function defineModel(parameters: DefineDatasetParameters): ModelDefinition<z.ZodNever, z.ZodType>
export function defineModel(
  parameters: DefineModelParameters<z.ZodType, z.ZodType> | DefineDatasetParameters,
): ModelDefinition<z.ZodType, z.ZodType> {
  const id = String(parameters.id)
  const kind: ModelKind = parameters.kind ?? 'model'
  const issues: ValidationIssue[] = []
  const add = (path: PropertyKey[], message: string) => issues.push({ path, message })

  if (!MODEL_ID_PATTERN.test(id)) add(['id'], "must look like 'publisher/name' in lower case")
  if (!VERSION_PATTERN.test(parameters.version)) add(['version'], 'must be a semantic version such as 1.0.0')
  if (kind !== 'model' && kind !== 'dataset') add(['kind'], "must be 'model' or 'dataset'")
  if (typeof parameters.description !== 'string' || parameters.description.length > LIMITS.maxDescription)
    add(['description'], `must be a string of at most ${LIMITS.maxDescription} characters`)
  // JavaScript callers get issues, not TypeErrors, for missing lists
  if (!Array.isArray(parameters.capabilities)) add(['capabilities'], 'must be an array of capability tags')
  const capabilities = Array.isArray(parameters.capabilities) ? [...parameters.capabilities] : []
  if (capabilities.length > LIMITS.maxCapabilities) add(['capabilities'], `at most ${LIMITS.maxCapabilities}`)
  capabilities.forEach((c, i) => {
    if (!CAPABILITY_PATTERN.test(c)) add(['capabilities', i], 'lower-case tag such as text.sentiment')
  })
  if (new Set(capabilities).size !== capabilities.length) add(['capabilities'], 'duplicate capability')
  const rawParents = parameters.lineage?.parents ?? []
  if (!Array.isArray(rawParents)) add(['lineage', 'parents'], 'must be an array of model ids')
  const parents = Array.isArray(rawParents) ? [...rawParents] : []
  if (parents.length > LIMITS.maxParents) add(['lineage', 'parents'], `at most ${LIMITS.maxParents} parents`)
  parents.forEach((p, i) => {
    if (!MODEL_ID_PATTERN.test(p)) add(['lineage', 'parents', i], "parent ids look like 'publisher/name'")
  })
  if (new Set(parents).size !== parents.length) add(['lineage', 'parents'], 'duplicate parent')
  if (parents.includes(id)) add(['lineage', 'parents'], 'a model cannot be its own parent')
  const timeoutMs = parameters.timeoutMs ?? DEFAULT_TIMEOUT_MS
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) add(['timeoutMs'], 'must be a positive number')

  let inputJson: JsonSchema | undefined
  let outputJson: JsonSchema | undefined
  if (kind === 'model') {
    if (typeof parameters.run !== 'function') add(['run'], 'a model needs a run(input, { signal }) function')
    if (!isZodSchema(parameters.input)) add(['input'], 'must be a zod schema')
    else inputJson = toJsonSchema(parameters.input, 'input', issues, 'input')
    if (!isZodSchema(parameters.output)) add(['output'], 'must be a zod schema')
    else outputJson = toJsonSchema(parameters.output, 'output', issues, 'output')
  } else {
    if (parameters.run !== undefined) add(['run'], 'a dataset is never called; remove run or use kind model')
    if (parameters.output !== undefined) {
      if (!isZodSchema(parameters.output)) add(['output'], 'must be a zod schema')
      else outputJson = toJsonSchema(parameters.output, 'output', issues, 'output')
    }
  }
  if (issues.length) throw new InvalidModelDefinitionError({ modelId: id, issues })

  const termIssues: ValidationIssue[] = []
  const t = parameters.terms as Partial<ModelTerms> | undefined
  if (
    !t ||
    typeof t.pricePerCall !== 'bigint' ||
    !Array.isArray(t.payees) ||
    typeof t.royaltyBps !== 'number'
  )
    termIssues.push({
      path: [],
      message: 'terms need pricePerCall (bigint), payees ({ address, shareBps }[]) and royaltyBps (number)',
    })
  else if (t.flatFee !== undefined && typeof t.flatFee !== 'bigint')
    termIssues.push({ path: ['flatFee'], message: 'flatFee must be a bigint' })
  else checkTerms(parameters.terms, { addIssue: (i) => termIssues.push(i) })
  if (termIssues.length) throw new InvalidTermsError({ modelId: id, issues: termIssues })

  const terms: ModelTerms = Object.freeze({ ...parameters.terms, payees: [...parameters.terms.payees] })
  const card: Card = {
    schema: CARD_SCHEMA,
    id,
    version: parameters.version,
    kind,
    description: parameters.description,
    capabilities,
    ...(inputJson ? { input: inputJson } : {}),
    ...(outputJson ? { output: outputJson } : {}),
    terms: termsToCard(terms),
    lineage: { parents },
  }
  const hash = hashCard(card)
  const inputSchema: z.ZodType = parameters.input ?? z.never()
  const outputSchema: z.ZodType = parameters.output ?? z.never()
  const run = parameters.run
  const onClose = parameters.close
  let closed: Promise<void> | undefined

  async function handler(raw: unknown, options: ModelCallOptions = {}): Promise<unknown> {
    if (!run) throw new ModelNotRunnableError({ modelId: id })
    const callerSignal = options.signal
    if (callerSignal?.aborted) throw new ModelAbortedError({ modelId: id, cause: callerSignal.reason })
    const parsed = await inputSchema.safeParseAsync(raw)
    if (!parsed.success) throw new InvalidModelInputError({ modelId: id, issues: parsed.error.issues })

    const budget = options.timeoutMs ?? timeoutMs
    const controller = new AbortController()
    let timer: ReturnType<typeof setTimeout> | undefined
    let onAbort: (() => void) | undefined
    // Rejects when the budget runs out or the caller aborts; `run` sees the same reason on its signal,
    // and a run that ignores its signal is abandoned rather than awaited.
    const stopped = new Promise<never>((_, reject) => {
      const stop = (err: Error) => {
        controller.abort(err)
        reject(err)
      }
      onAbort = () => stop(new ModelAbortedError({ modelId: id, cause: callerSignal?.reason }))
      // The caller may have aborted while the input was being parsed.
      if (callerSignal?.aborted) return onAbort()
      callerSignal?.addEventListener('abort', onAbort, { once: true })
      timer = setTimeout(() => stop(new ModelTimeoutError({ modelId: id, timeoutMs: budget })), budget)
    })
    let result: unknown
    try {
      const running = Promise.resolve()
        .then(() => run(parsed.data, { signal: controller.signal }))
        .catch((e: unknown) => {
          if (controller.signal.aborted) throw controller.signal.reason
          throw new ModelRunError({ modelId: id, cause: e })
        })
      result = await Promise.race([running, stopped])
    } finally {
      clearTimeout(timer)
      if (onAbort) callerSignal?.removeEventListener('abort', onAbort)
    }
    const out = await outputSchema.safeParseAsync(result)
    if (!out.success) throw new InvalidModelOutputError({ modelId: id, issues: out.error.issues })
    return out.data
  }

  return Object.freeze({
    id,
    version: parameters.version,
    kind,
    card,
    hash,
    terms,
    lineage: Object.freeze({ parents }),
    input: inputSchema,
    output: outputSchema,
    timeoutMs,
    runnable: run !== undefined,
    cardFor({ endpoint }: { endpoint: string }): Card {
      const url = z.url({ protocol: /^https?$/ }).safeParse(endpoint)
      if (!url.success)
        throw new InvalidModelDefinitionError({
          modelId: id,
          issues: [
            { path: ['endpoint'], message: `must be an http(s) URL, got ${JSON.stringify(endpoint)}` },
          ],
        })
      return { ...card, endpoint }
    },
    cardHash: (c: Card = card) => hashCard(c),
    handler,
    call: handler,
    close(): Promise<void> {
      closed ??= Promise.resolve().then(() => onClose?.())
      return closed
    },
  })
}

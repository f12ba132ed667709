import { BaseError } from '../errors/base.js'
import type { LedgerEntry } from './types.js'

/** A issue found while checking a workflow against the models it names. */
export type PlanIssue = {
  readonly stepId: string
  /** JSON pointer inside the value the step receives (or reads). */
  readonly path: string
  readonly message: string
  readonly severity: 'error' | 'warning'
}

const formatIssues = (issues: readonly PlanIssue[]) =>
  issues.map((i) => `- ${i.stepId}${i.path ? ` at ${i.path}` : ''}: ${i.message}`)

/** The workflow definition itself is wrong (duplicate ids, a mapping that computes instead of selecting). */
export class WorkflowDefinitionError extends BaseError {
  override name = 'WorkflowDefinitionError' as const
}

/** A step refers to a model the directory cannot resolve. */
export class UnknownModelError extends BaseError {
  override name = 'UnknownModelError' as const
  readonly stepId: string
  constructor(stepId: string, ref: string) {
    super(`step "${stepId}": no listed model matches ${ref}; check the id and range, or relax the query.`)
    this.stepId = stepId
  }
}

/** What a step receives does not fit the model's input schema (or the model's output does not fit the step). */
export class SchemaMismatchError extends BaseError {
  override name = 'SchemaMismatchError' as const
  readonly issues: readonly PlanIssue[]
  constructor(issues: readonly PlanIssue[]) {
    super(
      `${issues.length} type mismatch${issues.length === 1 ? '' : 'es'} between steps and models; fix the mappings or pick compatible models before running.`,
      { metaMessages: formatIssues(issues) },
    )
    this.issues = issues
  }
}

/** A mapping reads a path that the source's schema does not have. */
export class MissingPathError extends BaseError {
  override name = 'MissingPathError' as const
  readonly issues: readonly PlanIssue[]
  constructor(issues: readonly PlanIssue[]) {
    super('a mapping reads a field that its source does not produce; select an existing field.', {
      metaMessages: formatIssues(issues),
    })
    this.issues = issues
  }
}

/** The quote (the most the run can cost) is above the budget. Nothing was paid. */
export class OverBudgetError extends BaseError {
  override name = 'OverBudgetError' as const
  readonly quote: bigint
  readonly budget: bigint
  constructor(quote: bigint, budget: bigint, lines: readonly string[]) {
    super(
      `the run may cost up to ${quote} but the budget is ${budget}; raise the budget, cap map sizes with maxItems, or choose cheaper models. Nothing was paid.`,
      { metaMessages: lines },
    )
    this.quote = quote
    this.budget = budget
  }
}

/** A paid step inside a map has no bound on the number of items, so the run cannot be quoted. */
export class UnboundedQuoteError extends BaseError {
  override name = 'UnboundedQuoteError' as const
  constructor(stepId: string) {
    super(
      `map "${stepId}" calls paid models over a list whose length is unknown before the run; set { maxItems } on the map so the run can be quoted.`,
    )
  }
}

/** A resolved model is refused by the run's policy (price cap, allow-list). */
export class PolicyViolationError extends BaseError {
  override name = 'PolicyViolationError' as const
}

/** Paying the next call would exceed the run's budget. */
export class BudgetExceededError extends BaseError {
  override name = 'BudgetExceededError' as const
  constructor(stepId: string, spent: bigint, price: bigint, budget: bigint) {
    super(
      `step "${stepId}" would spend ${price} on top of ${spent} already committed, above the budget of ${budget}; raise the budget.`,
    )
  }
}

/** The run needs an adapter it was not given. */
export class MissingAdapterError extends BaseError {
  override name = 'MissingAdapterError' as const
}

/** The input (or a resume payload) failed its zod schema. */
export class InvalidInputError extends BaseError {
  override name = 'InvalidInputError' as const
  readonly issues: readonly { path: string; message: string }[]
  constructor(what: string, issues: readonly { path: string; message: string }[]) {
    super(`${what} does not match its schema; fix the listed fields.`, {
      metaMessages: issues.map((i) => `- ${i.path || '(root)'}: ${i.message}`),
    })
    this.issues = issues
  }
}

/** A model's output failed the schema the step declared for it. */
export class InvalidModelOutputError extends BaseError {
  override name = 'InvalidModelOutputError' as const
}

/** One attempt of a step took longer than its `timeoutMs`. */
export class StepTimeoutError extends BaseError {
  override name = 'StepTimeoutError' as const
  readonly stepId: string
  readonly timeoutMs: number
  constructor(stepId: string, timeoutMs: number) {
    super(`step "${stepId}" did not finish within ${timeoutMs} ms; raise timeoutMs or make the step faster.`)
    this.stepId = stepId
    this.timeoutMs = timeoutMs
  }
}

/** A step failed for good (attempts exhausted or not retryable). */
export class StepFailedError extends BaseError {
  override name = 'StepFailedError' as const
  readonly stepId: string
  readonly attempts: number
  constructor(stepId: string, attempts: number, cause: unknown) {
    super(`step "${stepId}" failed after ${attempts} attempt${attempts === 1 ? '' : 's'}.`, { cause })
    this.stepId = stepId
    this.attempts = attempts
  }
}

/** A run ended without output. The receipt lists what was paid (and settled) before it stopped. */
export class RunFailedError extends BaseError {
  override name = 'RunFailedError' as const
  readonly runId: string
  readonly entries: readonly LedgerEntry[]
  constructor(runId: string, cause: unknown, entries: readonly LedgerEntry[]) {
    super(`run ${runId} failed; see the cause. ${entries.length} paid call(s) were recorded and settled.`, {
      cause,
    })
    this.runId = runId
    this.entries = entries
  }
}

/** The run was cancelled through its AbortSignal. */
export class RunCancelledError extends BaseError {
  override name = 'RunCancelledError' as const
  readonly runId: string
  readonly entries: readonly LedgerEntry[]
  constructor(runId: string, entries: readonly LedgerEntry[], cause?: unknown) {
    super(`run ${runId} was cancelled; ${entries.length} paid call(s) were recorded and settled.`, { cause })
    this.runId = runId
    this.entries = entries
  }
}

/** The ledger already holds an entry for this idempotency key: the call must not be paid twice. */
export class DuplicateIdempotencyKeyError extends BaseError {
  override name = 'DuplicateIdempotencyKeyError' as const
  constructor(key: string) {
    super(
      `the ledger already holds a paid call with idempotency key ${key}; reuse its output instead of paying again.`,
    )
  }
}

/** Resume was asked for a step that is not waiting. */
export class NotWaitingError extends BaseError {
  override name = 'NotWaitingError' as const
  constructor(runId: string, stepId: string, waiting: readonly string[]) {
    super(
      `run ${runId} is not waiting on "${stepId}"; it waits on ${waiting.length ? waiting.map((w) => `"${w}"`).join(', ') : 'nothing'}.`,
    )
  }
}

/** A stored run was not found. */
export class RunNotFoundError extends BaseError {
  override name = 'RunNotFoundError' as const
  constructor(runId: string) {
    super(`no stored run ${runId}; check the id and the snapshot store.`)
  }
}

/** Somebody else saved the run since it was loaded. */
export class SnapshotConflictError extends BaseError {
  override name = 'SnapshotConflictError' as const
  constructor(runId: string, expected: number, actual: number) {
    super(`run ${runId} is at version ${actual}, not ${expected}: another worker saved it; reload and retry.`)
  }
}

/** A blob the snapshot references is missing from the store. */
export class BlobNotFoundError extends BaseError {
  override name = 'BlobNotFoundError' as const
  constructor(hash: string) {
    super(`blob ${hash} is missing from the snapshot store; the store lost data the run depends on.`)
  }
}

/** The stored run was made by a different version of the workflow. */
export class WorkflowMismatchError extends BaseError {
  override name = 'WorkflowMismatchError' as const
}

// ---- engine control signals (not domain errors: the runtime interprets them; rethrow them if caught)

/**
 * Throw from a step to fail it at once, without retries.
 *
 * @example
 * ```ts
 * fn(async (x: { url: string }) => {
 *   if (!x.url.startsWith('https:')) throw new NonRetryableError('only https URLs are accepted')
 *   return fetchIt(x.url)
 * })
 * ```
 */
export class NonRetryableError extends Error {
  override name = 'NonRetryableError' as const
  constructor(message = 'tributary:non-retryable', options?: { cause?: unknown }) {
    super(message, options)
  }
}

/**
 * Throw from a step to retry it after `retryAfterMs` (e.g. on HTTP 429 with Retry-After), instead of the
 * backoff delay. It still counts as an attempt.
 *
 * @example
 * ```ts
 * if (res.status === 429) throw new RetryAfterError(Number(res.headers.get('retry-after')) * 1000)
 * ```
 */
export class RetryAfterError extends Error {
  override name = 'RetryAfterError' as const
  readonly retryAfterMs: number
  constructor(retryAfterMs: number, message = 'tributary:retry-after', options?: { cause?: unknown }) {
    super(message, options)
    this.retryAfterMs = retryAfterMs
  }
}

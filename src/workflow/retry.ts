import { BaseError } from '../errors/base.js'
import {
  BudgetExceededError,
  InvalidInputError,
  InvalidModelOutputError,
  NonRetryableError,
  PolicyViolationError,
  RetryAfterError,
  StepFailedError,
  StepTimeoutError,
} from './errors.js'
import type { Clock, RetryPolicy } from './types.js'

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
}

export const defaultModelRetry: RetryPolicy = {
  maxAttempts: 3,
  initialDelayMs: 500,
  backoffFactor: 2,
  maxDelayMs: 30_000,
  jitter: 0.5,
}
export const defaultFnRetry: RetryPolicy = { ...defaultModelRetry, maxAttempts: 1 }

/** Errors no retry can cure: the engine's own, and any tributary error that says it is not retryable. */
const fatal = (e: unknown) =>
  (e instanceof BaseError && e.retryable === false) ||
  e instanceof NonRetryableError ||
  e instanceof InvalidInputError ||
  e instanceof InvalidModelOutputError ||
  e instanceof BudgetExceededError ||
  e instanceof PolicyViolationError

/**
 * The backoff delay before attempt `attempt + 1`, jitter included.
 *
 * @example
 * ```ts
 * backoffDelay({ ...defaultModelRetry, jitter: 0 }, 3, Math.random) // 2000 (500 × 2²)
 * ```
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.backoffFactor ** (attempt - 1))
  const j = Math.min(1, Math.max(0, policy.jitter))
  return Math.round(base * (1 - j) + base * j * random())
}

/** Waits `ms` on `clock`; rejects with the signal's reason when it aborts first. */
export function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const onAbort = () => {
      clock.clearTimeout(handle)
      reject(signal.reason)
    }
    const handle = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

function withTimeout<T>(
  attempt: (signal: AbortSignal) => Promise<T>,
  stepId: string,
  ms: number,
  clock: Clock,
  parent: AbortSignal,
): Promise<T> {
  const ac = new AbortController()
  const onParent = () => ac.abort(parent.reason)
  parent.addEventListener('abort', onParent, { once: true })
  return new Promise<T>((resolve, reject) => {
    const handle = clock.setTimeout(() => {
      const err = new StepTimeoutError(stepId, ms)
      ac.abort(err)
      reject(err)
    }, ms)
    attempt(ac.signal).then(
      (v) => {
        clock.clearTimeout(handle)
        parent.removeEventListener('abort', onParent)
        resolve(v)
      },
      (e) => {
        clock.clearTimeout(handle)
        parent.removeEventListener('abort', onParent)
        reject(e)
      },
    )
  })
}

export type RetryHooks = {
  readonly onAttempt?: ((attempt: number) => void) | undefined
  readonly onRetry?: ((attempt: number, delayMs: number, error: unknown) => void) | undefined
}

/**
 * Runs `attempt` until it succeeds, with exponential backoff and jitter between attempts, an optional timeout per
 * attempt, `RetryAfterError` delays, and no retry for `NonRetryableError` (or what `retryOn` refuses). Gives up
 * with `StepFailedError` (cause: the last error). Cancellation (the signal) propagates its reason at once.
 */
export async function retrying<T>(
  stepId: string,
  attempt: (attempt: number, signal: AbortSignal) => Promise<T> | T,
  options: {
    readonly policy: RetryPolicy
    readonly timeoutMs: number | undefined
    readonly clock: Clock
    readonly signal: AbortSignal
    readonly random: () => number
    /** The first attempt was already made (by a caller's fast path) and failed with this error. */
    readonly firstFailure?: { readonly error: unknown } | undefined
  } & RetryHooks,
): Promise<T> {
  const { policy, timeoutMs, clock, signal } = options
  let n = 1
  let failure = options.firstFailure
  for (;;) {
    if (failure) {
      const { error } = failure
      failure = undefined
      if (signal.aborted) throw signal.reason
      if (fatal(error) || n >= policy.maxAttempts || (policy.retryOn && !policy.retryOn(error)))
        throw new StepFailedError(stepId, n, error)
      const delay =
        error instanceof RetryAfterError
          ? Math.max(0, error.retryAfterMs)
          : backoffDelay(policy, n, options.random)
      options.onRetry?.(n, delay, error)
      await sleep(clock, delay, signal)
      n++
    }
    if (signal.aborted) throw signal.reason
    options.onAttempt?.(n)
    try {
      return timeoutMs === undefined
        ? await attempt(n, signal)
        : await withTimeout(async (s) => attempt(n, s), stepId, timeoutMs, clock, signal)
    } catch (error) {
      failure = { error }
    }
  }
}

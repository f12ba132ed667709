import type { Address, Hex } from 'viem'

export type {
  CapabilityQuery,
  JSONSchema,
  ModelDirectory,
  ModelIdRef,
  ModelRef,
  ResolvedModel,
} from '../market/directory.js'

import type { PaidCallPayment } from '../models/paidCaller.js'

export type { PaidCaller, PaidCallOptions, PaidCallPayment, PaidCallResult } from '../models/paidCaller.js'

/**
 * One paid call as the run's attribution ledger holds it: where in the run it was made, and what the caller reported
 * of its payment. The receipt's proof and the voucher are not part of the receipt leaf (the run's root does not commit
 * to them): they only serve `verifyCallReceipt`, and an altered one makes that check fail.
 */
export type LedgerEntry = {
  readonly index: number
  readonly idempotencyKey: Hex
  readonly stepId: string
  readonly item: number
  readonly assetId: bigint
  readonly modelId: string
  readonly token: Address
} & PaidCallPayment

export type SettleParameters = {
  readonly runId: Hex
  readonly receiptRoot: Hex
  readonly entries: readonly LedgerEntry[]
}

export type SettleResult = { readonly txHash: Hex; readonly [key: string]: unknown }

/** Settles a run once, at its end: every lane used, every model and ancestor credited, the root recorded. */
export type Settler = {
  settle(parameters: SettleParameters): Promise<SettleResult>
}

/** Where the engine reads time and schedules timers; XState's `SimulatedClock` fits. */
export type Clock = {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** Retries with exponential backoff: delay = min(maxDelayMs, initialDelayMs × factor^(attempt−1)), then jitter. */
export type RetryPolicy = {
  /** Attempts in total, the first included. */
  readonly maxAttempts: number
  readonly initialDelayMs: number
  readonly backoffFactor: number
  readonly maxDelayMs: number
  /** Fraction of each delay that is random: 0 = none, 0.5 = delay × [0.5, 1), 1 = full jitter. */
  readonly jitter: number
  /** Return false to fail at once on this error. `NonRetryableError` never retries. */
  readonly retryOn?: (error: unknown) => boolean
}

/** Step-level execution options, set on `model()` / `fn()` or as run-wide defaults in the policy. */
export type StepOptions = {
  readonly retry?: Partial<RetryPolicy>
  /** Each attempt is aborted and fails with `StepTimeoutError` after this many ms. */
  readonly timeoutMs?: number
}

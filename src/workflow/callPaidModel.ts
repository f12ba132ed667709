import type { Hex } from 'viem'
import { BudgetExceededError } from './errors.js'
import { type AttributionLedger, idempotencyKey } from './ledger.js'
import { defaultModelRetry, retrying, systemClock } from './retry.js'
import type { Clock, LedgerEntry, PaidCaller, ResolvedModel, RetryPolicy } from './types.js'

/** Shared by the workflow runtime and `createPaidCallActor`. */
export type PaidCallDependencies = {
  readonly caller: PaidCaller
  readonly ledger: AttributionLedger
  readonly clock?: Clock | undefined
  readonly random?: (() => number) | undefined
  /** Spending cap for everything recorded in `ledger` plus calls in flight. */
  readonly budget?: bigint | undefined
  /** Called once a payment is recorded (the entry names the step and item). */
  readonly onPayment?: ((entry: LedgerEntry) => void) | undefined
  readonly onRetry?:
    | ((stepId: string, item: number, attempt: number, delayMs: number, error: unknown) => void)
    | undefined
  readonly onAttempt?: ((stepId: string, item: number, attempt: number) => void) | undefined
}

export type CallPaidModelParameters = {
  readonly model: ResolvedModel
  readonly input: unknown
  readonly runId: Hex
  readonly stepId: string
  readonly item?: number | undefined
  readonly signal: AbortSignal
  readonly retry?: RetryPolicy | undefined
  readonly timeoutMs?: number | undefined
}

export type CallPaidModelReturnType = {
  readonly output: unknown
  readonly entry: LedgerEntry
  /** True when the ledger already held this call: its output was reused and nothing was paid. */
  readonly reused: boolean
}

const inFlight = new WeakMap<AttributionLedger, { reserved: bigint }>()

/**
 * Calls a model through a `PaidCaller` and records the payment in the attribution ledger, exactly once per
 * (run, step, item): the idempotency key is derived from them, a key already in the ledger returns the recorded
 * output without calling, and retries reuse the key so the provider never charges twice. The budget counts what the
 * ledger holds plus the price of calls in flight.
 *
 * @example
 * ```ts
 * const { output, entry } = await callPaidModel(
 *   { caller, ledger, budget: 1_000n },
 *   { model, input: { text }, runId, stepId: 'sentiment', signal },
 * )
 * ```
 */
export async function callPaidModel(
  deps: PaidCallDependencies,
  parameters: CallPaidModelParameters,
): Promise<CallPaidModelReturnType> {
  const { model, input, runId, stepId, signal } = parameters
  const item = parameters.item ?? 0
  const key = idempotencyKey(runId, stepId, item)
  const { ledger } = deps
  const known = ledger.get(key)
  if (known) {
    const out = ledger.output(key)
    if (out) return { output: out.value, entry: known, reused: true }
  }
  let flight = inFlight.get(ledger)
  if (!flight) {
    flight = { reserved: 0n }
    inFlight.set(ledger, flight)
  }
  if (deps.budget !== undefined && !known) {
    const committed = ledger.total() + flight.reserved
    if (committed + model.pricePerCall > deps.budget)
      throw new BudgetExceededError(stepId, committed, model.pricePerCall, deps.budget)
  }
  flight.reserved += model.pricePerCall
  try {
    let result: Awaited<ReturnType<PaidCaller['call']>>
    if (signal.aborted) throw signal.reason
    if (parameters.timeoutMs === undefined && !deps.onAttempt) {
      // Fast path: the first attempt goes straight to the caller; the retry loop only starts if it fails.
      try {
        result = await deps.caller.call(model, input, { runId, idempotencyKey: key, stepId, item, signal })
      } catch (error) {
        result = await retryCall(deps, parameters, key, item, { error })
      }
    } else result = await retryCall(deps, parameters, key, item, undefined)
    // A restore may have recorded this key while the call was in flight elsewhere: keep the first record.
    const existing = ledger.get(key)
    if (existing) return { output: ledger.output(key)?.value ?? result.output, entry: existing, reused: true }
    const p = result.payment
    const entry = ledger.record(
      {
        idempotencyKey: key,
        stepId,
        item,
        assetId: model.assetId,
        modelId: model.id,
        modelVersion: p.modelVersion,
        token: model.token,
        laneId: p.laneId,
        amount: p.amount,
        cumulative: p.cumulative,
        inputHash: p.inputHash,
        outputHash: p.outputHash,
        providerSignature: p.providerSignature,
        latencyMs: p.latencyMs,
        lane: p.lane,
      },
      result.output,
    )
    deps.onPayment?.(entry)
    return { output: result.output, entry, reused: false }
  } finally {
    flight.reserved -= model.pricePerCall
  }
}

/** The retry loop of a paid call (off the fast path). */
function retryCall(
  deps: PaidCallDependencies,
  parameters: CallPaidModelParameters,
  key: Hex,
  item: number,
  firstFailure: { error: unknown } | undefined,
): Promise<Awaited<ReturnType<PaidCaller['call']>>> {
  const { model, input, runId, stepId, signal } = parameters
  return retrying(
    stepId,
    (_n, s) => deps.caller.call(model, input, { runId, idempotencyKey: key, stepId, item, signal: s }),
    {
      policy: parameters.retry ?? defaultModelRetry,
      timeoutMs: parameters.timeoutMs,
      clock: deps.clock ?? systemClock,
      signal,
      random: deps.random ?? Math.random,
      firstFailure,
      onRetry: deps.onRetry && ((n, delay, error) => deps.onRetry?.(stepId, item, n, delay, error)),
      onAttempt: deps.onAttempt && ((n) => deps.onAttempt?.(stepId, item, n)),
    },
  )
}

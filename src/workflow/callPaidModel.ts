import type { Hex } from 'viem'
import { BudgetExceededError } from './errors.js'
import { type AttributionLedger, idempotencyKey } from './ledger.js'
import { defaultModelRetry, retrying, systemClock } from './retry.js'
import type { Clock, LedgerEntry, PaidCaller, PaidCallResult, ResolvedModel, RetryPolicy } from './types.js'

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
export function callPaidModel(
  deps: PaidCallDependencies,
  parameters: CallPaidModelParameters,
): Promise<CallPaidModelReturnType> {
  try {
    return startPaidCall(deps, parameters)
  } catch (error) {
    return Promise.reject(error)
  }
}

// Not async: a paid step is on the engine's hot path, and every async frame costs a promise (more where async hooks
// are on). The fast path is one `then` on the caller's promise.
function startPaidCall(
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
    if (out) return Promise.resolve({ output: out.value, entry: known, reused: true })
  }
  let flight = inFlight.get(ledger)
  if (!flight) {
    flight = { reserved: 0n }
    inFlight.set(ledger, flight)
  }
  const price = model.pricePerCall
  if (deps.budget !== undefined && !known) {
    const committed = ledger.total() + flight.reserved
    if (committed + price > deps.budget) throw new BudgetExceededError(stepId, committed, price, deps.budget)
  }
  if (signal.aborted) throw signal.reason
  const call: PaidCall = { deps, parameters, key, item, reservation: flight, price }
  flight.reserved += price
  // Inline arrows below, not named closures: under tsx (the benchmark's loader) a named closure costs a `name`
  // definition per call.
  if (parameters.timeoutMs !== undefined || deps.onAttempt)
    return retryCall(call, undefined).then(
      (result) => record(call, result),
      (error) => release(call, error),
    )
  // Fast path: the first attempt goes straight to the caller; the retry loop only starts if it fails.
  let first: Promise<PaidCallResult>
  try {
    first = deps.caller.call(model, input, { runId, idempotencyKey: key, stepId, item, signal })
  } catch (error) {
    first = Promise.reject(error)
  }
  return first.then(
    (result) => record(call, result),
    (error) =>
      retryCall(call, { error }).then(
        (result) => record(call, result),
        (e) => release(call, e),
      ),
  )
}

/** One paid call between its reservation against the budget and its record. */
type PaidCall = {
  readonly deps: PaidCallDependencies
  readonly parameters: CallPaidModelParameters
  readonly key: Hex
  readonly item: number
  readonly reservation: { reserved: bigint }
  readonly price: bigint
}

function release(call: PaidCall, error: unknown): never {
  call.reservation.reserved -= call.price
  throw error
}

/** Records a paid call's payment once the caller answered, releasing its reservation. */
function record(call: PaidCall, result: PaidCallResult): CallPaidModelReturnType {
  call.reservation.reserved -= call.price
  const { deps, key, item } = call
  const { ledger } = deps
  // A restore may have recorded this key while the call was in flight elsewhere: keep the first record.
  const existing = ledger.get(key)
  if (existing) return { output: ledger.output(key)?.value ?? result.output, entry: existing, reused: true }
  const { model, stepId } = call.parameters
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
      receiptProof: p.receiptProof,
      voucher: p.voucher,
      latencyMs: p.latencyMs,
      lane: p.lane,
    },
    result.output,
  )
  deps.onPayment?.(entry)
  return { output: result.output, entry, reused: false }
}

/** The retry loop of a paid call (off the fast path). */
function retryCall(call: PaidCall, firstFailure: { error: unknown } | undefined): Promise<PaidCallResult> {
  const { deps, parameters, key, item } = call
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

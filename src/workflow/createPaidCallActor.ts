import type { Hex } from 'viem'
import { fromPromise } from 'xstate'
import { callPaidModel, type PaidCallDependencies } from './callPaidModel.js'
import type { LedgerEntry, ResolvedModel, RetryPolicy } from './types.js'

/** Input of the paid model-call actor. */
export type PaidCallActorInput = {
  readonly model: ResolvedModel
  readonly input: unknown
  readonly runId: Hex
  readonly stepId: string
  readonly item?: number
  readonly retry?: RetryPolicy
  readonly timeoutMs?: number
}

/** Output of the paid model-call actor. */
export type PaidCallActorOutput = {
  readonly output: unknown
  readonly entry: LedgerEntry
  readonly reused: boolean
}

/**
 * The paid model-call actor, for machines of your own: an XState `fromPromise` actor that calls a model through a
 * `PaidCaller` and records the payment in an attribution ledger — once per (run, step, item), within the budget,
 * with retries. Register it in `setup({ actors })` so snapshots that contain it persist; a restored call that was
 * already recorded returns the recorded output without paying again.
 *
 * @example
 * ```ts
 * import { setup } from 'xstate'
 * const ledger = createAttributionLedger()
 * const machine = setup({ actors: { pay: createPaidCallActor({ caller, ledger, budget: 100n }) } }).createMachine({
 *   initial: 'calling',
 *   states: {
 *     calling: {
 *       invoke: { src: 'pay', input: { model, input: { text: 'hi' }, runId, stepId: 'greet' }, onDone: 'done' },
 *     },
 *     done: { type: 'final' },
 *   },
 * })
 * ```
 */
export function createPaidCallActor(dependencies: PaidCallDependencies) {
  return fromPromise<PaidCallActorOutput, PaidCallActorInput>(({ input, signal }) =>
    callPaidModel(dependencies, { ...input, signal }),
  )
}

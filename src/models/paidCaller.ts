import type { Hex } from 'viem'
import type { ResolvedModel } from '../market/directory.js'

/** What a paid call returns besides the output: the provider's signed receipt of the charge. */
export type PaidCallPayment = {
  readonly laneId: Hex
  readonly amount: bigint
  readonly cumulative: bigint
  readonly modelVersion: string
  readonly inputHash: Hex
  readonly outputHash: Hex
  /** The provider's signature over the root of the receipt batch the call was signed in. */
  readonly providerSignature: Hex
  /** The receipt's Merkle proof up to that root (empty or absent when it was signed alone). */
  readonly receiptProof?: readonly Hex[] | undefined
  /** The cumulative amount of the voucher sent with the call (part of what the provider signed). */
  readonly voucher?: bigint | undefined
  readonly latencyMs: number
  /** Opaque to the engine, handed back to the settler. Keep it JSON-serialisable (bigint allowed). */
  readonly lane: unknown
}

export type PaidCallOptions = {
  readonly runId: Hex
  /** keccak256 over (runId, stepId, item): the same key must return the same response and never charge twice. */
  readonly idempotencyKey: Hex
  readonly stepId: string
  readonly item: number
  readonly signal: AbortSignal
}

export type PaidCallResult = { readonly output: unknown; readonly payment: PaidCallPayment }

/** Calls a model and pays for it (the chain SDK implements it with lanes and vouchers). */
export type PaidCaller = {
  call(model: ResolvedModel, input: unknown, options: PaidCallOptions): Promise<PaidCallResult>
}

import { type Hex, zeroHash } from 'viem'
import { callModel } from './callModel.js'
import type { SpendPolicy, Wallet } from './createWallet.js'
import type { PaidCaller, PaidCallPayment } from './paidCaller.js'

export type CreateMarketCallerParameters = {
  wallet: Wallet
  /** Extra rules for the engine's calls, on top of the wallet's policy. */
  policy?: SpendPolicy | undefined
  /** Transport retries inside one engine attempt (default 1; the engine retries too, with the same key). */
  retries?: number | undefined
  /** Time budget of one HTTP attempt. */
  timeoutMs?: number | undefined
}

/**
 * The `PaidCaller` the workflow engine uses to call marketplace models: each call goes through
 * {@link callModel} with the engine's idempotency key (so the engine's retries are never charged twice)
 * and run id (so `perRun` caps apply), and returns the provider's receipt as a `PaidCallPayment` whose
 * `lane` is the license `Lane` that `settleRun` takes and whose `cumulative` is what the provider has
 * charged on the lane after the call. A provider serving for free yields a zero payment (no lane).
 *
 * @example
 * ```ts
 * const caller = createMarketCaller({ wallet })
 * const result = await runWorkflow(flow, input, { directory, caller, settler })
 * ```
 */
export function createMarketCaller(p: CreateMarketCallerParameters): PaidCaller {
  return {
    async call(model, input, o) {
      const r = await callModel(model, input, {
        wallet: p.wallet,
        policy: p.policy,
        idempotencyKey: o.idempotencyKey,
        runId: o.runId,
        signal: o.signal,
        retries: p.retries ?? 1,
        timeoutMs: p.timeoutMs,
      })
      const pay = r.payment
      const payment: PaidCallPayment = pay
        ? {
            laneId: pay.laneId,
            amount: pay.amount,
            cumulative: pay.cumulative,
            modelVersion: pay.modelVersion,
            inputHash: pay.inputHash,
            outputHash: pay.outputHash,
            providerSignature: pay.providerSignature,
            receiptProof: pay.receiptProof,
            voucher: pay.voucher,
            latencyMs: Math.round(r.latencyMs),
            lane: pay.lane,
          }
        : {
            laneId: zeroHash,
            amount: 0n,
            cumulative: 0n,
            modelVersion: model.version,
            inputHash: zeroHash,
            outputHash: zeroHash,
            providerSignature: '0x' as Hex,
            receiptProof: [],
            latencyMs: Math.round(r.latencyMs),
            lane: undefined,
          }
      return { output: r.output, payment }
    },
  }
}

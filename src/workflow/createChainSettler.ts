import type { TributaryClient } from '../chain/client.js'
import { BaseError } from '../errors/base.js'
import type { Lane } from '../pay/lane.js'
import { mergeClaims, type SettleRunReturnType, settleRun } from '../pay/settleRun.js'
import type { SettleResult, Settler } from './types.js'

/** A ledger entry does not carry a lane the chain SDK can settle. */
export class UnsettleableEntryError extends BaseError {
  override name = 'UnsettleableEntryError' as const
}

export type ChainSettler = Settler & {
  /** Every settlement this settler made, newest last. */
  readonly settlements: readonly (SettleRunReturnType & { runId: `0x${string}` })[]
}

/**
 * The engine's `Settler` on the real ledger: one `settleRun` transaction per run, sent by the payer (no
 * signatures needed), charging each lane up to the highest cumulative the run signed on it and crediting
 * every model and every ancestor.
 *
 * @example
 * ```ts
 * const settler = createChainSettler(payerClient)
 * const result = await run(wf, input, { directory, caller, settler, budget: 50_000n })
 * ```
 */
export function createChainSettler(client: TributaryClient): ChainSettler {
  const settlements: (SettleRunReturnType & { runId: `0x${string}` })[] = []
  return {
    settlements,
    async settle({ runId, receiptRoot, entries }): Promise<SettleResult> {
      const claims = entries.map((e) => {
        const lane = e.lane as Partial<Lane> | undefined
        if (!lane?.laneId || !lane.payer || !lane.token || lane.modelId === undefined || !lane.ancestors) {
          throw new UnsettleableEntryError(`entry ${e.index} (${e.modelId}) has no chain lane to settle`, {
            metaMessages: [
              '- Use a PaidCaller from the chain SDK (createMarketCaller) so each entry carries its Lane.',
            ],
          })
        }
        return { lane: lane as Lane, cumulative: e.cumulative }
      })
      const r = await settleRun(client, { receiptRoot, claims: mergeClaims(claims) })
      settlements.push({ ...r, runId })
      return {
        txHash: r.txHash,
        gasUsed: r.gasUsed,
        total: r.total,
        credits: r.credits,
        alreadyRedeemed: r.alreadyRedeemed,
      }
    },
  }
}

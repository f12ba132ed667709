import { type Hash, parseEventLogs } from 'viem'
import { sendContract, type TributaryClient } from '../chain/client.js'
import { ledgerAbi } from '../chain/generated/Ledger.js'
import type { Lane } from './lane.js'
import { toLaneKey } from './laneKey.js'

export type ReclaimParameters = { lane: Lane }
export type ReclaimReturnType = { txHash: Hash; refund: bigint }

/**
 * After a lane's expiry plus the ledger's reclaim delay, returns what was never claimed to the payer's
 * escrow and closes the lane. Signed-but-unredeemed vouchers are worthless after that: providers redeem
 * before (see `redeemVouchers`).
 *
 * @example
 * ```ts
 * const { refund } = await reclaim(client, { lane })
 * ```
 */
export async function reclaim(
  client: TributaryClient,
  { lane }: ReclaimParameters,
): Promise<ReclaimReturnType> {
  const receipt = await sendContract(client, {
    address: client.addresses.ledger,
    abi: ledgerAbi,
    functionName: 'reclaim',
    args: [toLaneKey(lane)],
  })
  const [e] = parseEventLogs({ abi: ledgerAbi, eventName: 'LaneReclaimed', logs: receipt.logs })
  return { txHash: receipt.transactionHash, refund: e?.args.refund ?? 0n }
}

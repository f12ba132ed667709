import type { Hex } from 'viem'
import { readContract, type TributaryClient } from '../chain/client.js'
import { ledgerAbi } from '../chain/generated/Ledger.js'

export type GetLaneParameters = { laneId: Hex }
export type GetLaneReturnType = {
  laneId: Hex
  exists: boolean
  cap: bigint
  claimed: bigint
  /** cap − claimed: what the lane can still pay. */
  remaining: bigint
  expiresAt: bigint
  closed: boolean
}

/**
 * Reads a lane's state: cap, what has been claimed on-chain, expiry and whether it was reclaimed.
 *
 * @example
 * ```ts
 * const { remaining } = await getLane(client, { laneId: lane.laneId })
 * ```
 */
export async function getLane(
  client: TributaryClient,
  { laneId }: GetLaneParameters,
): Promise<GetLaneReturnType> {
  const s = await readContract<{ cap: bigint; claimed: bigint; expiresAt: number; closed: boolean }>(client, {
    address: client.addresses.ledger,
    abi: ledgerAbi,
    functionName: 'laneState',
    args: [laneId],
  })
  return {
    laneId,
    exists: s.cap > 0n || s.expiresAt > 0,
    cap: s.cap,
    claimed: s.claimed,
    remaining: s.cap - s.claimed,
    expiresAt: BigInt(s.expiresAt),
    closed: s.closed,
  }
}

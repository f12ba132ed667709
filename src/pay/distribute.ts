import { type Address, type Hash, parseEventLogs } from 'viem'
import { sendContract, type TributaryClient } from '../chain/client.js'
import { ledgerAbi } from '../chain/generated/Ledger.js'

export type DistributeParameters = { assetId: bigint; token: Address }
export type DistributeReturnType = { txHash: Hash; amount: bigint }

/**
 * Moves an asset's credited balance to its payees' withdrawable balances (floor of each share, the
 * remainder to the first payee). Anyone may call it.
 *
 * @example
 * ```ts
 * const { amount } = await distribute(client, { assetId: 1n, token })
 * ```
 */
export async function distribute(
  client: TributaryClient,
  p: DistributeParameters,
): Promise<DistributeReturnType> {
  const receipt = await sendContract(client, {
    address: client.addresses.ledger,
    abi: ledgerAbi,
    functionName: 'distribute',
    args: [p.assetId, p.token],
  })
  const [e] = parseEventLogs({ abi: ledgerAbi, eventName: 'Distributed', logs: receipt.logs })
  return { txHash: receipt.transactionHash, amount: e?.args.amount ?? 0n }
}

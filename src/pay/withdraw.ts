import { type Address, type Hash, parseEventLogs } from 'viem'
import { sendContract, type TributaryClient } from '../chain/client.js'
import { ledgerAbi } from '../chain/generated/Ledger.js'

export type WithdrawParameters = { token: Address; to?: Address | undefined }
export type WithdrawReturnType = { txHash: Hash; amount: bigint }

/**
 * Withdraws the caller's whole payee balance in `token` (to itself, or to `to`).
 *
 * @example
 * ```ts
 * const { amount } = await withdraw(creatorClient, { token })
 * ```
 */
export async function withdraw(client: TributaryClient, p: WithdrawParameters): Promise<WithdrawReturnType> {
  const receipt = await sendContract(client, {
    address: client.addresses.ledger,
    abi: ledgerAbi,
    functionName: 'withdraw',
    args: [p.token, p.to ?? client.account.address],
  })
  const [e] = parseEventLogs({ abi: ledgerAbi, eventName: 'Withdrawn', logs: receipt.logs })
  return { txHash: receipt.transactionHash, amount: e?.args.amount ?? 0n }
}

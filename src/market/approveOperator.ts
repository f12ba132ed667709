import type { Address, Hash } from 'viem'
import { sendContract, type TributaryClient } from '../chain/client.js'
import { modelRegistryAbi } from '../chain/generated/ModelRegistry.js'

export type ApproveOperatorParameters = {
  /** The operator: typically the provider that serves the owner's models. */
  operator: Address
  /** One asset (ERC-721 `approve`), or every asset of the owner when omitted (`setApprovalForAll`). */
  assetId?: bigint | undefined
  /** false revokes an all-assets approval (default true). */
  approved?: boolean | undefined
}
export type ApproveOperatorReturnType = { txHash: Hash }

/**
 * Lets an operator act for an asset's owner: publish card versions and terms, and sign call receipts
 * that clients accept for the owner's models (a creator hosting its models with a provider).
 *
 * @example
 * ```ts
 * await approveOperator(creator, { operator: provider.account.address, assetId })
 * ```
 */
export async function approveOperator(
  client: TributaryClient,
  p: ApproveOperatorParameters,
): Promise<ApproveOperatorReturnType> {
  const receipt =
    p.assetId === undefined
      ? await sendContract(client, {
          address: client.addresses.registry,
          abi: modelRegistryAbi,
          functionName: 'setApprovalForAll',
          args: [p.operator, p.approved ?? true],
        })
      : await sendContract(client, {
          address: client.addresses.registry,
          abi: modelRegistryAbi,
          functionName: 'approve',
          args: [p.operator, p.assetId],
        })
  return { txHash: receipt.transactionHash }
}

import type { Address, Hash, Hex } from 'viem'
import { getEvents, readContract, type TributaryClient } from '../chain/client.js'
import { ledgerAbi } from '../chain/generated/Ledger.js'
import { modelRegistryAbi } from '../chain/generated/ModelRegistry.js'
import { type Ancestor, decodeAttribution, decodeLineage, expandAttribution } from './lane.js'

export type GetEarningsParameters = { assetId: bigint; token: Address; fromBlock?: bigint | undefined }
export type GetEarningsReturnType = {
  assetId: bigint
  token: Address
  /** Credited for its own calls (as the model of a lane or a flat-fee period). */
  asModel: bigint
  /** Credited as an ancestor, i.e. royalties from derivatives' revenue. */
  asAncestor: bigint
  /** The ancestor royalties by the derivative whose use paid them. */
  fromDerivatives: { modelId: bigint; amount: bigint }[]
  /** Credited and not yet distributed to payees. */
  undistributed: bigint
  /** Every settlement or redemption that credited the asset. */
  settlements: { txHash: Hash; receiptRoot: Hex; amount: bigint }[]
}

/**
 * What an asset has earned, rebuilt from the ledger's `Settled` events: as a model, and as an ancestor
 * of every derivative that was used, plus what is still to distribute.
 *
 * @example
 * ```ts
 * const e = await getEarnings(client, { assetId: 1n, token })
 * e.asAncestor // royalties received from derivatives
 * ```
 */
export async function getEarnings(
  client: TributaryClient,
  p: GetEarningsParameters,
): Promise<GetEarningsReturnType> {
  const logs = await getEvents<{
    args: { receiptRoot: Hex; token: Address; attribution: Hex }
    transactionHash: Hash
  }>(client, {
    address: client.addresses.ledger,
    abi: ledgerAbi,
    eventName: 'Settled',
    args: { token: p.token },
    ...(p.fromBlock !== undefined ? { fromBlock: p.fromBlock } : {}),
  })
  // lineages are immutable: read each model's once
  const lineages = new Map<bigint, readonly Ancestor[]>()
  for (const log of logs) {
    for (const e of decodeAttribution(log.args.attribution)) {
      if (lineages.has(e.modelId)) continue
      const lineage = await readContract<Hex>(client, {
        address: client.addresses.registry,
        abi: modelRegistryAbi,
        functionName: 'lineageOf',
        args: [e.modelId],
      })
      lineages.set(e.modelId, decodeLineage(lineage))
    }
  }
  let asModel = 0n
  let asAncestor = 0n
  const fromDerivatives = new Map<bigint, bigint>()
  const settlements: GetEarningsReturnType['settlements'] = []
  for (const log of logs) {
    let amount = 0n
    const credits = expandAttribution(decodeAttribution(log.args.attribution), (id) => lineages.get(id) ?? [])
    for (const e of credits) {
      if (e.assetId !== p.assetId) continue
      amount += e.amount
      if (e.role === 'model') asModel += e.amount
      else {
        asAncestor += e.amount
        fromDerivatives.set(e.ofModel, (fromDerivatives.get(e.ofModel) ?? 0n) + e.amount)
      }
    }
    if (amount > 0n)
      settlements.push({ txHash: log.transactionHash, receiptRoot: log.args.receiptRoot, amount })
  }
  const undistributed = await readContract<bigint>(client, {
    address: client.addresses.ledger,
    abi: ledgerAbi,
    functionName: 'creditOf',
    args: [p.token, p.assetId],
  })
  return {
    assetId: p.assetId,
    token: p.token,
    asModel,
    asAncestor,
    fromDerivatives: [...fromDerivatives].map(([modelId, amount]) => ({ modelId, amount })),
    undistributed,
    settlements,
  }
}

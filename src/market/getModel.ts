import type { Address, Hex } from 'viem'
import { readContract, type TributaryClient } from '../chain/client.js'
import { modelRegistryAbi } from '../chain/generated/ModelRegistry.js'
import { type Ancestor, decodeLineage } from '../pay/lane.js'
import type { Payee } from './terms.js'

export type GetModelParameters = { assetId: bigint }
export type GetModelReturnType = {
  assetId: bigint
  owner: Address
  kind: 'model' | 'dataset'
  royaltyBps: number
  termsVersion: number
  cardVersion: number
  terms: { token: Address; pricePerCall: bigint; flatFee: bigint; flatPeriodSeconds: number }
  termsHash: Hex
  cardURI: string
  cardHash: Hex
  ancestors: Ancestor[]
  lineageHash: Hex
  payees: Payee[]
}

/**
 * Reads an asset as the registry holds it now: owner, card, current terms and payees, immutable lineage.
 *
 * @example
 * ```ts
 * const model = await getModel(client, { assetId: 3n })
 * model.ancestors // [{ assetId: 1n, bps: 1000 }]
 * ```
 */
export async function getModel(
  client: TributaryClient,
  { assetId }: GetModelParameters,
): Promise<GetModelReturnType> {
  const v = await readContract<{
    owner: Address
    kind: number
    royaltyBps: number
    termsVersion: number
    cardVersion: number
    terms: { token: Address; pricePerCall: bigint; flatFee: bigint; flatPeriod: number }
    termsHash: Hex
    cardHash: Hex
    cardURI: string
    lineage: Hex
    lineageHash: Hex
    payees: readonly Address[]
    shares: readonly number[]
  }>(client, {
    address: client.addresses.registry,
    abi: modelRegistryAbi,
    functionName: 'getAsset',
    args: [assetId],
  })
  return {
    assetId,
    owner: v.owner,
    kind: v.kind === 1 ? 'dataset' : 'model',
    royaltyBps: v.royaltyBps,
    termsVersion: v.termsVersion,
    cardVersion: v.cardVersion,
    terms: {
      token: v.terms.token,
      pricePerCall: v.terms.pricePerCall,
      flatFee: v.terms.flatFee,
      flatPeriodSeconds: v.terms.flatPeriod,
    },
    termsHash: v.termsHash,
    cardURI: v.cardURI,
    cardHash: v.cardHash,
    ancestors: decodeLineage(v.lineage),
    lineageHash: v.lineageHash,
    payees: v.payees.map((address, i) => ({ address, shareBps: v.shares[i] ?? 0 })),
  }
}

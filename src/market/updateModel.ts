import type { Hash, Hex } from 'viem'
import { sendContract, type TributaryClient } from '../chain/client.js'
import { modelRegistryAbi } from '../chain/generated/ModelRegistry.js'
import {
  type AssetTerms,
  InvalidAssetParametersError,
  type Payee,
  parseOrThrow,
  payeesSchema,
  termsSchema,
  toChainTerms,
} from './terms.js'

export type UpdateModelParameters = {
  assetId: bigint
  /** A new card version. */
  card?: { uri: string; hash: Hex } | undefined
  /** New terms and payees, for licenses opened from now on. */
  terms?: { terms: AssetTerms; payees: readonly Payee[] } | undefined
}
export type UpdateModelReturnType = { txHashes: Hash[] }

/**
 * Publishes a new card version and/or changes terms and payees. Owner or approved operator only. Lanes
 * already open keep the terms version they were opened under; revenue credited before a payee change is
 * distributed to the old payees in the same transaction.
 *
 * @example
 * ```ts
 * await updateModel(client, { assetId, terms: { terms: { token, pricePerCall: 3_000n }, payees } })
 * ```
 */
export async function updateModel(
  client: TributaryClient,
  { assetId, card, terms }: UpdateModelParameters,
): Promise<UpdateModelReturnType> {
  if (!card && !terms) throw new InvalidAssetParametersError('updateModel() needs a card, terms, or both')
  const txHashes: Hash[] = []
  if (card) {
    const r = await sendContract(client, {
      address: client.addresses.registry,
      abi: modelRegistryAbi,
      functionName: 'publishCard',
      args: [assetId, card.uri, card.hash],
    })
    txHashes.push(r.transactionHash)
  }
  if (terms) {
    const t = parseOrThrow(termsSchema, terms.terms, 'terms')
    const payees = parseOrThrow(payeesSchema, terms.payees, 'payees')
    const r = await sendContract(client, {
      address: client.addresses.registry,
      abi: modelRegistryAbi,
      functionName: 'updateTerms',
      args: [
        assetId,
        toChainTerms(t as AssetTerms),
        payees.map((x) => x.address),
        payees.map((x) => x.shareBps),
      ],
    })
    txHashes.push(r.transactionHash)
  }
  return { txHashes }
}

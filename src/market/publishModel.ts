import { type Hash, type Hex, parseEventLogs } from 'viem'
import { sendContract, type TributaryClient } from '../chain/client.js'
import { modelRegistryAbi } from '../chain/generated/ModelRegistry.js'
import { type Ancestor, decodeLineage } from '../pay/lane.js'
import {
  type AssetTerms,
  InvalidAssetParametersError,
  type Payee,
  parseOrThrow,
  payeesSchema,
  termsSchema,
  toChainTerms,
} from './terms.js'

export type PublishModelParameters = {
  kind?: 'model' | 'dataset' | undefined
  /** Where the card JSON is served. */
  cardURI: string
  /** keccak256 of the canonical card JSON; the discovery index checks fetched cards against it. */
  cardHash: Hex
  terms: AssetTerms
  payees: readonly Payee[]
  /** The royalty (bps) every asset derived from this one owes it, directly or transitively. Immutable. */
  royaltyBps: number
  /** Asset ids of the models or datasets this one derives from. Immutable. */
  parents?: readonly bigint[] | undefined
}
export type PublishModelReturnType = {
  assetId: bigint
  txHash: Hash
  /** The flattened ancestor vector fixed at registration. */
  ancestors: Ancestor[]
  lineageHash: Hex
}

/**
 * Registers a model or dataset on the registry (mints its ERC-721 to the caller) with its card, terms,
 * payees, royalty and parents; the lineage is flattened and fixed on-chain.
 *
 * @example
 * ```ts
 * const { assetId } = await publishModel(client, {
 *   cardURI: 'http://127.0.0.1:8080/.well-known/tributary/cards/acme/sentiment.json',
 *   cardHash,
 *   terms: { token: devnet.addresses.stablecoin, pricePerCall: 2_000n },
 *   payees: [{ address: creator, shareBps: 10_000 }],
 *   royaltyBps: 1_000,
 *   parents: [baseModelId],
 * })
 * ```
 */
export async function publishModel(
  client: TributaryClient,
  p: PublishModelParameters,
): Promise<PublishModelReturnType> {
  const terms = parseOrThrow(termsSchema, p.terms, 'terms')
  const payees = parseOrThrow(payeesSchema, p.payees, 'payees')
  if (!Number.isInteger(p.royaltyBps) || p.royaltyBps < 0 || p.royaltyBps > 5_000) {
    throw new InvalidAssetParametersError(`royaltyBps must be an integer from 0 to 5000, got ${p.royaltyBps}`)
  }
  if (!p.cardURI || !/^0x[0-9a-fA-F]{64}$/.test(p.cardHash)) {
    throw new InvalidAssetParametersError('a card URI and a 32-byte card hash are required')
  }
  const receipt = await sendContract(client, {
    address: client.addresses.registry,
    abi: modelRegistryAbi,
    functionName: 'register',
    args: [
      {
        kind: p.kind === 'dataset' ? 1 : 0,
        cardURI: p.cardURI,
        cardHash: p.cardHash,
        terms: toChainTerms(terms as AssetTerms),
        payees: payees.map((x) => x.address),
        shares: payees.map((x) => x.shareBps),
        royaltyBps: p.royaltyBps,
        parents: [...(p.parents ?? [])],
      },
    ],
  })
  const [event] = parseEventLogs({ abi: modelRegistryAbi, eventName: 'AssetRegistered', logs: receipt.logs })
  if (!event) throw new InvalidAssetParametersError('register() emitted no AssetRegistered event')
  return {
    assetId: event.args.assetId,
    txHash: receipt.transactionHash,
    ancestors: decodeLineage(event.args.lineage),
    lineageHash: event.args.lineageHash,
  }
}

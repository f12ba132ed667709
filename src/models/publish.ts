import type { Address } from 'viem'
import type { TributaryClient } from '../chain/client.js'
import { BaseError } from '../errors/base.js'
import { approveOperator } from '../market/approveOperator.js'
import { type Card, hashCard } from '../market/card.js'
import { type PublishModelReturnType, publishModel } from '../market/publishModel.js'
import type { ModelDefinition } from './defineModel.js'

export type PublishParameters = {
  /** Where the card is served (a provider's `cardUrl(id)`): registered on-chain with the card's hash. */
  cardURI: string
  /** The invoke URL written into the card (a provider's `endpoint(id)`); omitted for a dataset. */
  endpoint?: string | undefined
  /** The token `'default'` terms stand for (the devnet's stablecoin, or the market's). */
  token?: Address | undefined
  /** On-chain asset ids of the definition's parents, by model id. */
  parents?: Readonly<Record<string, bigint>> | ((id: string) => bigint | undefined) | undefined
  /** Approve this account (the provider) to sign receipts and update terms for the new asset. */
  operator?: Address | undefined
}
export type PublishReturnType = PublishModelReturnType & { card: Card }

/** The definition cannot be published as given. */
export class PublishError extends BaseError {
  override name = 'PublishError' as const
}

/**
 * Registers a model or dataset defined with `defineModel`: its card (with the endpoint written in) is
 * hashed onto the chain, its terms, payees and royalty are set, its parents are resolved to asset ids and
 * its lineage flattened. The card itself is served by the provider; the discovery index checks the hash.
 *
 * @example
 * ```ts
 * const provider = await serveModels([sentiment], { client: providerClient, assetIds: (id) => ids[id] })
 * const { assetId } = await publish(creator, sentiment, {
 *   cardURI: provider.cardUrl(sentiment.id),
 *   endpoint: provider.endpoint(sentiment.id),
 *   token: devnet.addresses.stablecoin,
 *   operator: providerClient.account.address,
 * })
 * ```
 */
export async function publish(
  client: TributaryClient,
  definition: ModelDefinition,
  p: PublishParameters,
): Promise<PublishReturnType> {
  if (definition.runnable && !p.endpoint) {
    throw new PublishError(`${definition.id} is a model: publish it with the endpoint that serves it`, {
      metaMessages: ['- Pass endpoint: provider.endpoint(id) (serveModels gives it).'],
    })
  }
  const card =
    definition.runnable && p.endpoint ? definition.cardFor({ endpoint: p.endpoint }) : definition.card
  const declared = definition.terms.token
  const token =
    declared === undefined || declared === 'default' ? (p.token ?? client.addresses.stablecoin) : declared
  const paid = definition.terms.pricePerCall > 0n || (definition.terms.flatFee ?? 0n) > 0n
  if (!token && paid) {
    throw new PublishError(`${definition.id} is priced in the 'default' token, and no token was given`, {
      metaMessages: ['- Pass token: the stablecoin address of the market you publish on.'],
    })
  }
  const given = p.parents
  const resolve = typeof given === 'function' ? given : (id: string) => given?.[id]
  const parents = definition.lineage.parents.map((id) => {
    const assetId = resolve(id)
    if (assetId === undefined) {
      throw new PublishError(`${definition.id} names parent ${id}, whose asset id is unknown`, {
        metaMessages: ['- Publish parents first and pass their asset ids in `parents`.'],
      })
    }
    return assetId
  })
  const published = await publishModel(client, {
    kind: definition.kind,
    cardURI: p.cardURI,
    cardHash: hashCard(card),
    terms: {
      token,
      pricePerCall: definition.terms.pricePerCall,
      flatFee: definition.terms.flatFee,
      flatPeriodSeconds: definition.terms.flatPeriodSeconds,
    },
    payees: definition.terms.payees,
    royaltyBps: definition.terms.royaltyBps,
    parents,
  })
  if (p.operator) await approveOperator(client, { operator: p.operator, assetId: published.assetId })
  return { ...published, card }
}

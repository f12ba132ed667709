import { decodeEventLog, type Hash, type Hex } from 'viem'
import type { TributaryClient } from './client.js'
import { toChainError } from './errors.js'
import { modelRegistryAbi } from './generated/ModelRegistry.js'

/** A registry event decoded, in chain order. */
export type RegistryLog = {
  eventName: string
  args: Record<string, unknown>
  blockNumber: bigint
  logIndex: number
  transactionHash: Hash
}

/**
 * Reads and decodes every registry event between two blocks (inclusive), in chain order: what an indexer
 * replays to rebuild the listings (AssetRegistered, CardPublished, TermsUpdated, Transfer).
 *
 * @example
 * ```ts
 * const logs = await getRegistryLogs(client, { fromBlock: 0n, toBlock: await client.publicClient.getBlockNumber() })
 * ```
 */
export async function getRegistryLogs(
  client: Pick<TributaryClient, 'publicClient' | 'addresses'>,
  { fromBlock, toBlock }: { fromBlock: bigint; toBlock: bigint },
): Promise<RegistryLog[]> {
  let raw: Awaited<ReturnType<typeof client.publicClient.getLogs>>
  try {
    raw = await client.publicClient.getLogs({ address: client.addresses.registry, fromBlock, toBlock })
  } catch (err) {
    throw toChainError('getLogs(registry)', err)
  }
  const out: RegistryLog[] = []
  for (const log of raw) {
    try {
      const decoded = decodeEventLog({
        abi: modelRegistryAbi,
        data: log.data,
        topics: log.topics as [Hex, ...Hex[]],
      })
      out.push({
        eventName: decoded.eventName,
        args: decoded.args as unknown as Record<string, unknown>,
        blockNumber: log.blockNumber ?? 0n,
        logIndex: log.logIndex ?? 0,
        transactionHash: log.transactionHash ?? '0x',
      })
    } catch {
      // an event this ABI does not know (none today): skip it rather than stop indexing
    }
  }
  return out
}

/** The latest block number. */
export async function getBlockNumber(client: Pick<TributaryClient, 'publicClient'>): Promise<bigint> {
  try {
    return await client.publicClient.getBlockNumber({ cacheTime: 0 })
  } catch (err) {
    throw toChainError('getBlockNumber', err)
  }
}

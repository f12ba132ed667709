import type { Abi, Address, Hex } from 'viem'
import { BaseError } from '../errors/base.js'
import type { TributaryClient } from './client.js'
import { toChainError } from './errors.js'
import { ledgerAbi } from './generated/Ledger.js'
import { modelRegistryAbi } from './generated/ModelRegistry.js'

/** A lane was opened (the whole immutable key travels in the event). */
export type LaneOpenedEvent = {
  type: 'LaneOpened'
  blockNumber: bigint
  laneId: Hex
  payer: Address
  modelId: bigint
  token: Address
  termsVersion: number
  lineageHash: Hex
  seq: bigint
  cap: bigint
  expiresAt: bigint
}
/** A lane's cap and expiry after a top-up (absolute values, so replaying it is harmless). */
export type LaneToppedUpEvent = {
  type: 'LaneToppedUp'
  blockNumber: bigint
  laneId: Hex
  cap: bigint
  expiresAt: bigint
}
/** A lane was closed and its unclaimed escrow returned to the payer. */
export type LaneReclaimedEvent = {
  type: 'LaneReclaimed'
  blockNumber: bigint
  laneId: Hex
  payer: Address
  refund: bigint
}
/** A settlement or redemption moved lanes of `payer`; `attribution` is the packed (modelId, amount) list. */
export type SettledEvent = {
  type: 'Settled'
  blockNumber: bigint
  receiptRoot: Hex
  payer: Address
  token: Address
  total: bigint
  attribution: Hex
}
/** A model's terms changed (new licenses use the new version; open lanes keep theirs). */
export type TermsUpdatedEvent = {
  type: 'TermsUpdated'
  blockNumber: bigint
  assetId: bigint
  version: number
  token: Address
  pricePerCall: bigint
}
export type LedgerEvent =
  | LaneOpenedEvent
  | LaneToppedUpEvent
  | LaneReclaimedEvent
  | SettledEvent
  | TermsUpdatedEvent

/** The chain head as last polled: what time the chain thinks it is. */
export type ChainHead = { blockNumber: bigint; timestamp: bigint; observedAtMs: number }

export type WatchLedgerEventsParameters = {
  /** First block to read (default: the head when the watch starts; earlier state is read on demand). */
  fromBlock?: bigint | undefined
  /** Milliseconds between polls (default 250). */
  pollIntervalMs?: number | undefined
  /** Called with the events of each poll, in chain order. */
  onEvents: (events: LedgerEvent[]) => void
  /** Called after each successful poll with the head. */
  onHead?: ((head: ChainHead) => void) | undefined
  /** Called when a poll fails; the watch keeps polling. */
  onError?: ((error: BaseError) => void) | undefined
}
export type WatchLedgerEventsReturnType = {
  /** Polls now (and waits for it); resolves with the head it saw. */
  poll(): Promise<ChainHead>
  /** The last head seen, if any. */
  head(): ChainHead | undefined
  stop(): void
}

/** The watch was stopped or could not start. */
export class LedgerWatchError extends BaseError {
  override name = 'LedgerWatchError' as const
}

const ledgerEvents = ledgerAbi.filter(
  (x) =>
    x.type === 'event' &&
    (x.name === 'LaneOpened' ||
      x.name === 'LaneToppedUp' ||
      x.name === 'LaneReclaimed' ||
      x.name === 'Settled'),
)
const registryEvents = modelRegistryAbi.filter((x) => x.type === 'event' && x.name === 'TermsUpdated')

/**
 * Follows the ledger's lane events (opened, topped up, reclaimed, settled) and the registry's terms
 * updates by polling `eth_getLogs` from a cursor, so a provider keeps lane state fresh without one RPC
 * per call. Log filters are not used: they expire on many nodes, a cursor does not. Each poll also reads
 * the head block, whose timestamp is the chain's clock (anvil's `evm_increaseTime` moves it).
 *
 * @example
 * ```ts
 * const watch = await watchLedgerEvents(client, { onEvents: (events) => book.apply(events) })
 * await watch.poll() // catch up now
 * watch.stop()
 * ```
 */
export async function watchLedgerEvents(
  client: TributaryClient,
  p: WatchLedgerEventsParameters,
): Promise<WatchLedgerEventsReturnType> {
  const { publicClient } = client
  const { ledger, registry } = client.addresses
  let head: ChainHead | undefined
  let cursor: bigint
  try {
    const block = await publicClient.getBlock()
    head = { blockNumber: block.number, timestamp: block.timestamp, observedAtMs: Date.now() }
    cursor = p.fromBlock ?? block.number + 1n
  } catch (err) {
    throw new LedgerWatchError('cannot read the chain head to start watching ledger events', {
      cause: toChainError('getBlock', err),
      metaMessages: ['- Check that the RPC node answers.'],
    })
  }
  let stopped = false
  let running: Promise<ChainHead> | undefined
  let timer: ReturnType<typeof setTimeout> | undefined

  const pollOnce = async (): Promise<ChainHead> => {
    const block = await publicClient.getBlock()
    const to = block.number
    if (to >= cursor) {
      const [l, r] = await Promise.all([
        publicClient.getLogs({
          address: ledger,
          events: ledgerEvents as Abi,
          fromBlock: cursor,
          toBlock: to,
        } as Parameters<typeof publicClient.getLogs>[0]),
        publicClient.getLogs({
          address: registry,
          events: registryEvents as Abi,
          fromBlock: cursor,
          toBlock: to,
        } as Parameters<typeof publicClient.getLogs>[0]),
      ])
      const logs = [...l, ...r] as unknown as RawLog[]
      logs.sort((a, b) =>
        a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1,
      )
      const events = logs.map(toEvent).filter((e): e is LedgerEvent => e !== undefined)
      cursor = to + 1n
      if (events.length) p.onEvents(events)
    }
    head = { blockNumber: block.number, timestamp: block.timestamp, observedAtMs: Date.now() }
    p.onHead?.(head)
    return head
  }

  const poll = (): Promise<ChainHead> => {
    if (stopped) return Promise.reject(new LedgerWatchError('the ledger watch was stopped'))
    // one poll at a time: callers that ask meanwhile share it, then poll again for fresh state
    const next = (running ?? Promise.resolve(undefined as unknown as ChainHead))
      .catch(() => undefined)
      .then(pollOnce)
    running = next
    return next.catch((err) => {
      throw toChainError('getLogs(ledger events)', err)
    })
  }

  const loop = () => {
    if (stopped) return
    timer = setTimeout(() => {
      poll()
        .catch((err) => p.onError?.(err instanceof BaseError ? err : toChainError('poll', err)))
        .finally(loop)
    }, p.pollIntervalMs ?? 250)
    timer.unref?.()
  }
  loop()

  return {
    poll,
    head: () => head,
    stop() {
      stopped = true
      clearTimeout(timer)
    },
  }
}

type RawLog = {
  eventName?: string
  args: Record<string, unknown>
  blockNumber: bigint
  logIndex: number
}

function toEvent(log: RawLog): LedgerEvent | undefined {
  const a = log.args
  const blockNumber = log.blockNumber
  switch (log.eventName) {
    case 'LaneOpened':
      return {
        type: 'LaneOpened',
        blockNumber,
        laneId: a.laneId as Hex,
        payer: a.payer as Address,
        modelId: a.modelId as bigint,
        token: a.token as Address,
        termsVersion: Number(a.termsVersion),
        lineageHash: a.lineageHash as Hex,
        seq: BigInt(a.seq as bigint),
        cap: BigInt(a.cap as bigint),
        expiresAt: BigInt(a.expiresAt as number),
      }
    case 'LaneToppedUp':
      return {
        type: 'LaneToppedUp',
        blockNumber,
        laneId: a.laneId as Hex,
        cap: BigInt(a.cap as bigint),
        expiresAt: BigInt(a.expiresAt as number),
      }
    case 'LaneReclaimed':
      return {
        type: 'LaneReclaimed',
        blockNumber,
        laneId: a.laneId as Hex,
        payer: a.payer as Address,
        refund: a.refund as bigint,
      }
    case 'Settled':
      return {
        type: 'Settled',
        blockNumber,
        receiptRoot: a.receiptRoot as Hex,
        payer: a.payer as Address,
        token: a.token as Address,
        total: a.total as bigint,
        attribution: a.attribution as Hex,
      }
    case 'TermsUpdated': {
      const terms = a.terms as { token: Address; pricePerCall: bigint }
      return {
        type: 'TermsUpdated',
        blockNumber,
        assetId: a.assetId as bigint,
        version: Number(a.version),
        token: terms.token,
        pricePerCall: terms.pricePerCall,
      }
    }
    default:
      return undefined
  }
}

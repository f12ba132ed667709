import type {
  Abi,
  Account,
  Address,
  Chain,
  Hash,
  Hex,
  PublicClient,
  TransactionReceipt,
  Transport,
  WalletClient,
} from 'viem'
import { BaseError } from '../errors/base.js'
import { toChainError } from './errors.js'

/** Where the marketplace contracts live on a chain. */
export type MarketAddresses = {
  registry: Address
  ledger: Address
  /** The devnet's 6-decimal test stablecoin, when there is one. */
  stablecoin?: Address | undefined
}

/**
 * The one handle every SDK operation takes: typed viem clients bound to an account, and the contract
 * addresses. Made by `startDevnet()` or `connect()`. Writes from one client are serialized so nonces
 * never collide.
 */
export type TributaryClient = {
  chain: Chain
  publicClient: PublicClient<Transport, Chain>
  walletClient: WalletClient<Transport, Chain, Account>
  account: Account
  addresses: MarketAddresses
  /** The account's private key when it is known locally: enables the native fast signing path. */
  privateKey?: Hex | undefined
  /** @internal serializes writes of this client */
  queue: { tail: Promise<unknown> }
  /** @internal serializes multi-step operations of this client (read allowance, approve, open) */
  ops: { tail: Promise<unknown> }
}

/** A contract call in viem's shape, as the SDK's operations build it. */
export type ContractCall = {
  address: Address
  abi: Abi
  functionName: string
  args?: readonly unknown[]
}

/** The transaction was mined but reverted without a decodable reason. */
export class TransactionRevertedError extends BaseError {
  override name = 'TransactionRevertedError' as const
  constructor(functionName: string, hash: Hash) {
    super(`${functionName} was mined but reverted (transaction ${hash})`, {
      metaMessages: ['- Re-run the call with the same arguments to see the decoded reason.'],
    })
  }
}

/**
 * Sends a contract write from the client's account and waits for its receipt; reverts are decoded into
 * typed errors. Only `src/chain` talks to the RPC node: every write of the SDK goes through here.
 */
export function sendContract(client: TributaryClient, call: ContractCall): Promise<TransactionReceipt> {
  const run = async () => {
    let hash: Hash
    try {
      hash = await client.walletClient.writeContract({
        ...call,
        account: client.account,
        chain: client.chain,
      } as Parameters<typeof client.walletClient.writeContract>[0])
    } catch (err) {
      throw toChainError(call.functionName, err)
    }
    const receipt = await client.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 })
    if (receipt.status !== 'success') throw new TransactionRevertedError(call.functionName, hash)
    return receipt
  }
  const next = client.queue.tail.then(run, run)
  client.queue.tail = next.catch(() => undefined)
  return next
}

/** Reads a contract view; errors are decoded like writes. */
export async function readContract<T>(
  client: Pick<TributaryClient, 'publicClient'>,
  call: ContractCall,
): Promise<T> {
  try {
    return (await client.publicClient.readContract(
      call as Parameters<typeof client.publicClient.readContract>[0],
    )) as T
  } catch (err) {
    throw toChainError(call.functionName, err)
  }
}

/** Makes a client from its parts. */
export function createTributaryClient(parts: Omit<TributaryClient, 'queue' | 'ops'>): TributaryClient {
  return { ...parts, queue: { tail: Promise.resolve() }, ops: { tail: Promise.resolve() } }
}

/**
 * Runs `fn` after every earlier exclusive operation of this client has finished: for sequences that read
 * state and then write based on it (allowance, escrow), which would race if run concurrently.
 */
export function exclusive<T>(client: TributaryClient, fn: () => Promise<T>): Promise<T> {
  const next = client.ops.tail.then(fn, fn)
  client.ops.tail = next.catch(() => undefined)
  return next
}

/** Reads decoded contract events (from block 0 by default). */
export async function getEvents<T>(
  client: Pick<TributaryClient, 'publicClient'>,
  query: {
    address: Address
    abi: Abi
    eventName: string
    args?: Record<string, unknown>
    fromBlock?: bigint
  },
): Promise<T[]> {
  try {
    const logs = await client.publicClient.getContractEvents({
      address: query.address,
      abi: query.abi,
      eventName: query.eventName,
      args: query.args,
      fromBlock: query.fromBlock ?? 0n,
      toBlock: 'latest',
    } as Parameters<typeof client.publicClient.getContractEvents>[0])
    return logs as unknown as T[]
  } catch (err) {
    throw toChainError(`getLogs(${query.eventName})`, err)
  }
}

import {
  type Account,
  type Address,
  type Chain,
  createPublicClient,
  createWalletClient,
  defineChain,
  type Hex,
  http,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { z } from 'zod'
import { BaseError } from '../errors/base.js'
import { createTributaryClient, type MarketAddresses, type TributaryClient } from './client.js'

export type ConnectParameters = {
  rpcUrl: string
  /** A viem account, or a private key (which also enables native fast voucher signing). */
  account: Account | Hex
  addresses: MarketAddresses
  /** The chain, when known; otherwise its id is asked of the node. */
  chain?: Chain | undefined
}

/** The connection parameters were malformed. */
export class InvalidConnectionError extends BaseError {
  override name = 'InvalidConnectionError' as const
}

const addressSchema = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'a 0x-prefixed 20-byte hex address')
const connectSchema = z.object({
  rpcUrl: z.url(),
  addresses: z.object({
    registry: addressSchema,
    ledger: addressSchema,
    stablecoin: addressSchema.optional(),
  }),
})

/**
 * Connects to the marketplace on any EVM chain and returns the same handle `startDevnet()` gives.
 *
 * @example
 * ```ts
 * const client = await connect({
 *   rpcUrl: process.env.TRIBUTARY_RPC_URL!,
 *   account: process.env.TRIBUTARY_PRIVATE_KEY as `0x${string}`,
 *   addresses: { registry: '0x…', ledger: '0x…' },
 * })
 * ```
 */
export async function connect(parameters: ConnectParameters): Promise<TributaryClient> {
  const parsed = connectSchema.safeParse(parameters)
  if (!parsed.success) {
    throw new InvalidConnectionError('connect() got invalid parameters', {
      metaMessages: parsed.error.issues.map((i) => `- ${i.path.join('.')}: ${i.message}`),
    })
  }
  const privateKey = typeof parameters.account === 'string' ? parameters.account : undefined
  const account = privateKey ? privateKeyToAccount(privateKey) : (parameters.account as Account)
  const transport = http(parameters.rpcUrl, { batch: false, retryCount: 2 })
  let chain = parameters.chain
  if (!chain) {
    const probe = createPublicClient({ transport })
    let id: number
    try {
      id = await probe.getChainId()
    } catch (err) {
      throw new InvalidConnectionError(`no EVM node answers at ${parameters.rpcUrl}`, {
        metaMessages: ['- Check the URL and that the node is running.'],
        cause: err,
      })
    }
    chain = defineChain({
      id,
      name: `chain ${id}`,
      nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      rpcUrls: { default: { http: [parameters.rpcUrl] } },
    })
  }
  return createTributaryClient({
    chain,
    publicClient: createPublicClient({ chain, transport, pollingInterval: 50 }),
    walletClient: createWalletClient({ chain, transport, account }),
    account,
    addresses: parameters.addresses as { registry: Address; ledger: Address; stablecoin?: Address },
    privateKey,
  })
}

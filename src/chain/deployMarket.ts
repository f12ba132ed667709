import { type Abi, type Address, getAddress, type Hex } from 'viem'
import { BaseError } from '../errors/base.js'
import { sendContract, type TributaryClient } from './client.js'
import { ledgerAbi, ledgerBytecode } from './generated/Ledger.js'
import { modelRegistryAbi, modelRegistryBytecode } from './generated/ModelRegistry.js'
import { testStablecoinAbi, testStablecoinBytecode } from './generated/TestStablecoin.js'

export type DeployMarketParameters = {
  /** Seconds after a lane's expiry during which providers can still redeem (default one hour). */
  reclaimDelay?: bigint | undefined
  /** Also deploy the 6-decimal test stablecoin and put it on the allowlist (default true). */
  stablecoin?: boolean | undefined
  /** Further tokens to allow. */
  allowTokens?: readonly Address[] | undefined
}

export type DeployMarketReturnType = { registry: Address; ledger: Address; stablecoin?: Address | undefined }

/** A deployment transaction did not create a contract. */
export class DeploymentError extends BaseError {
  override name = 'DeploymentError' as const
}

/**
 * Deploys ModelRegistry and Ledger (and the test stablecoin), links them and allows the tokens. The
 * client's account becomes the owner of both.
 *
 * @example
 * ```ts
 * const addresses = await deployMarket(client, { reclaimDelay: 3600n })
 * ```
 */
export async function deployMarket(
  client: TributaryClient,
  { reclaimDelay = 3600n, stablecoin = true, allowTokens = [] }: DeployMarketParameters = {},
): Promise<DeployMarketReturnType> {
  const owner = client.account.address
  const coin = stablecoin ? await deploy(client, testStablecoinAbi, testStablecoinBytecode, []) : undefined
  const registry = await deploy(client, modelRegistryAbi, modelRegistryBytecode, [owner])
  const ledger = await deploy(client, ledgerAbi, ledgerBytecode, [registry, reclaimDelay, owner])
  await sendContract(client, {
    address: registry,
    abi: modelRegistryAbi,
    functionName: 'setLedger',
    args: [ledger],
  })
  for (const token of [...(coin ? [coin] : []), ...allowTokens]) {
    await sendContract(client, {
      address: ledger,
      abi: ledgerAbi,
      functionName: 'setTokenAllowed',
      args: [token, true],
    })
  }
  return { registry, ledger, stablecoin: coin }
}

async function deploy(
  client: TributaryClient,
  abi: Abi,
  bytecode: Hex,
  args: readonly unknown[],
): Promise<Address> {
  const hash = await client.walletClient.deployContract({
    abi,
    bytecode,
    args,
    account: client.account,
    chain: client.chain,
  } as Parameters<typeof client.walletClient.deployContract>[0])
  const receipt = await client.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 })
  if (!receipt.contractAddress || receipt.status !== 'success') {
    throw new DeploymentError(`deployment ${hash} created no contract`)
  }
  return getAddress(receipt.contractAddress)
}

import { type Hash, parseEventLogs } from 'viem'
import { exclusive, readContract, sendContract, type TributaryClient } from '../chain/client.js'
import { ensureAllowance } from '../chain/erc20.js'
import { ledgerAbi } from '../chain/generated/Ledger.js'
import { modelRegistryAbi } from '../chain/generated/ModelRegistry.js'
import { BaseError } from '../errors/base.js'
import { decodeLineage, type Lane } from './lane.js'

export type OpenLicenseParameters = {
  modelId: bigint
  /** The most the lane may ever pay out, locked from escrow. */
  cap: bigint
  /** Unix seconds after which the provider stops accepting calls on the lane (or use `ttlSeconds`). */
  expiresAt?: bigint | undefined
  ttlSeconds?: number | undefined
  /** Refuse the lane if the price per call was raised above this (default: the price read now). */
  maxPricePerCall?: bigint | undefined
  /**
   * Tokens to pull from the wallet into escrow first: a number, or 'auto' (default) to deposit exactly
   * what escrow lacks for `cap`. The ledger is approved for it when needed.
   */
  deposit?: bigint | 'auto' | undefined
}
export type OpenLicenseReturnType = { lane: Lane; cap: bigint; expiresAt: bigint; txHash: Hash }

/** The license request is malformed. */
export class InvalidLicenseError extends BaseError {
  override name = 'InvalidLicenseError' as const
}

/**
 * Opens a license lane on a model: escrow locked up to `cap` until expiry, bound to the model's current
 * terms version and lineage. One transaction (plus an ERC-20 approval when the allowance is short).
 *
 * @example
 * ```ts
 * const { lane } = await openLicense(client, { modelId: 3n, cap: 1_000_000n, ttlSeconds: 86_400 })
 * ```
 */
export function openLicense(
  client: TributaryClient,
  p: OpenLicenseParameters,
): Promise<OpenLicenseReturnType> {
  return exclusive(client, () => open(client, p))
}

async function open(client: TributaryClient, p: OpenLicenseParameters): Promise<OpenLicenseReturnType> {
  if (p.cap <= 0n || p.cap >= 1n << 96n)
    throw new InvalidLicenseError(`cap must be between 1 and 2^96-1, got ${p.cap}`)
  const { ledger, registry } = client.addresses
  const [token, price] = await readContract<readonly [`0x${string}`, bigint, number, `0x${string}`]>(client, {
    address: registry,
    abi: modelRegistryAbi,
    functionName: 'licenseInfo',
    args: [p.modelId],
  })
  const block = await client.publicClient.getBlock()
  const expiresAt = p.expiresAt ?? block.timestamp + BigInt(p.ttlSeconds ?? 86_400)
  if (expiresAt <= block.timestamp) {
    throw new InvalidLicenseError(`expiresAt ${expiresAt} is not after the chain's time ${block.timestamp}`)
  }
  let deposit = 0n
  if (p.deposit === undefined || p.deposit === 'auto') {
    const escrow = await readContract<bigint>(client, {
      address: ledger,
      abi: ledgerAbi,
      functionName: 'escrowOf',
      args: [token, client.account.address],
    })
    deposit = escrow >= p.cap ? 0n : p.cap - escrow
  } else {
    deposit = p.deposit
  }
  await ensureAllowance(client, token, ledger, deposit)
  const receipt = await sendContract(client, {
    address: ledger,
    abi: ledgerAbi,
    functionName: 'openLicense',
    args: [p.modelId, p.cap, Number(expiresAt), p.maxPricePerCall ?? price, deposit],
  })
  const [opened] = parseEventLogs({ abi: ledgerAbi, eventName: 'LaneOpened', logs: receipt.logs })
  if (!opened) throw new InvalidLicenseError('openLicense() emitted no LaneOpened event')
  const lineage = await readContract<`0x${string}`>(client, {
    address: registry,
    abi: modelRegistryAbi,
    functionName: 'lineageOf',
    args: [p.modelId],
  })
  const a = opened.args
  return {
    lane: {
      laneId: a.laneId,
      payer: a.payer,
      token: a.token,
      modelId: a.modelId,
      termsVersion: a.termsVersion,
      seq: a.seq,
      lineageHash: a.lineageHash,
      ancestors: decodeLineage(lineage),
    },
    cap: a.cap,
    expiresAt: BigInt(a.expiresAt),
    txHash: receipt.transactionHash,
  }
}

import type { Hash } from 'viem'
import { exclusive, readContract, sendContract, type TributaryClient } from '../chain/client.js'
import { ensureAllowance } from '../chain/erc20.js'
import { ledgerAbi } from '../chain/generated/Ledger.js'
import type { Lane } from './lane.js'
import { toLaneKey } from './laneKey.js'

export type TopUpLicenseParameters = {
  lane: Lane
  /** Cap to add, from escrow. */
  addCap?: bigint | undefined
  /** A later expiry (unix seconds). */
  expiresAt?: bigint | undefined
  /** Tokens to deposit first, or 'auto' (default) to deposit what escrow lacks for `addCap`. */
  deposit?: bigint | 'auto' | undefined
}
export type TopUpLicenseReturnType = { txHash: Hash }

/**
 * Adds cap to an open lane and/or extends its expiry. Only the lane's payer; only before expiry.
 *
 * @example
 * ```ts
 * await topUpLicense(client, { lane, addCap: 500_000n, expiresAt: lane.expiresAt + 86_400n })
 * ```
 */
export function topUpLicense(
  client: TributaryClient,
  p: TopUpLicenseParameters,
): Promise<TopUpLicenseReturnType> {
  return exclusive(client, () => topUp(client, p))
}

async function topUp(client: TributaryClient, p: TopUpLicenseParameters): Promise<TopUpLicenseReturnType> {
  const addCap = p.addCap ?? 0n
  let deposit = 0n
  if (p.deposit === undefined || p.deposit === 'auto') {
    const escrow = await readContract<bigint>(client, {
      address: client.addresses.ledger,
      abi: ledgerAbi,
      functionName: 'escrowOf',
      args: [p.lane.token, client.account.address],
    })
    deposit = escrow >= addCap ? 0n : addCap - escrow
  } else {
    deposit = p.deposit
  }
  await ensureAllowance(client, p.lane.token, client.addresses.ledger, deposit)
  const receipt = await sendContract(client, {
    address: client.addresses.ledger,
    abi: ledgerAbi,
    functionName: 'topUpLicense',
    args: [toLaneKey(p.lane), addCap, Number(p.expiresAt ?? 0n), deposit],
  })
  return { txHash: receipt.transactionHash }
}

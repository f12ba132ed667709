import { concatHex, type Hash, type Hex, parseEventLogs } from 'viem'
import { sendContract, type TributaryClient } from '../chain/client.js'
import { ledgerAbi } from '../chain/generated/Ledger.js'
import { BaseError } from '../errors/base.js'
import { getLane } from './getLane.js'
import { type Credit, decodeAttribution, encodeLaneClaims, expandAttribution, type Lane } from './lane.js'
import { ancestorsFrom, mergeClaims } from './settleRun.js'

/**
 * A payer-signed voucher a provider holds: signed alone, or in a batch with its proof to the signed root
 * (`signVouchers`).
 */
export type HeldVoucher = {
  lane: Lane
  cumulative: bigint
  signature: Hex
  proof?: readonly Hex[] | undefined
}

export type RedeemVouchersParameters = { vouchers: readonly HeldVoucher[] }
export type RedeemVouchersReturnType = {
  redemptions: { txHash: Hash; payer: Hex; token: Hex; total: bigint; credits: Credit[] }[]
  /** Vouchers that were not newer than what the lane had already claimed. */
  stale: Hex[]
}

/** A voucher is missing its signature. */
export class InvalidVoucherError extends BaseError {
  override name = 'InvalidVoucherError' as const
}

/**
 * Redeems the newest voucher of each lane on-chain, one transaction per (payer, token): what a provider
 * does alone, at any time, without the payer. Models and ancestors are credited as in a settlement.
 *
 * @example
 * ```ts
 * const { redemptions } = await redeemVouchers(providerClient, { vouchers: held })
 * ```
 */
export async function redeemVouchers(
  client: TributaryClient,
  { vouchers }: RedeemVouchersParameters,
): Promise<RedeemVouchersReturnType> {
  for (const v of vouchers) {
    if (!v.signature) throw new InvalidVoucherError(`voucher for lane ${v.lane.laneId} has no signature`)
  }
  const newest = mergeClaims(vouchers)
  const states = await Promise.all(newest.map((v) => getLane(client, { laneId: v.lane.laneId })))
  const stale: Hex[] = []
  const groups = new Map<string, HeldVoucher[]>()
  newest.forEach((v, i) => {
    if ((states[i]?.claimed ?? 0n) >= v.cumulative) {
      stale.push(v.lane.laneId)
      return
    }
    const k = `${v.lane.payer.toLowerCase()}:${v.lane.token.toLowerCase()}`
    groups.set(k, [...(groups.get(k) ?? []), v])
  })
  const redemptions: RedeemVouchersReturnType['redemptions'] = []
  for (const group of groups.values()) {
    const first = group[0] as HeldVoucher
    const args = [
      first.lane.payer,
      first.lane.token,
      encodeLaneClaims(group),
      concatHex(group.map((v) => v.signature)),
    ] as const
    // vouchers signed in batches need their proofs; a lane with none is marked by a zero length
    const receipt = await sendContract(
      client,
      group.some((v) => v.proof?.length)
        ? {
            address: client.addresses.ledger,
            abi: ledgerAbi,
            functionName: 'redeemWithProofs',
            args: [...args, encodeProofs(group)],
          }
        : { address: client.addresses.ledger, abi: ledgerAbi, functionName: 'redeem', args },
    )
    const [settled] = parseEventLogs({ abi: ledgerAbi, eventName: 'Settled', logs: receipt.logs })
    redemptions.push({
      txHash: receipt.transactionHash,
      payer: first.lane.payer,
      token: first.lane.token,
      total: settled?.args.total ?? 0n,
      credits: settled
        ? expandAttribution(decodeAttribution(settled.args.attribution), ancestorsFrom(group))
        : [],
    })
  }
  return { redemptions, stale }
}

/** Per voucher, in order: a one-byte count, then that many 32-byte proof nodes (what `redeemWithProofs` reads). */
function encodeProofs(vouchers: readonly HeldVoucher[]): Hex {
  const parts: Hex[] = []
  for (const v of vouchers) {
    const proof = v.proof ?? []
    if (proof.length > 255)
      throw new InvalidVoucherError(`voucher for lane ${v.lane.laneId} has a proof of more than 255 hashes`)
    parts.push(`0x${proof.length.toString(16).padStart(2, '0')}`, ...proof)
  }
  return concatHex(parts)
}

import { type Address, concatHex, type Hash, type Hex, isAddressEqual, parseEventLogs } from 'viem'
import { sendContract, type TributaryClient } from '../chain/client.js'
import { isRevert } from '../chain/errors.js'
import { ledgerAbi } from '../chain/generated/Ledger.js'
import { BaseError } from '../errors/base.js'
import { getLane } from './getLane.js'
import { type Credit, decodeAttribution, encodeLaneClaims, expandAttribution, type Lane } from './lane.js'

/** What a run owes on one lane: the cumulative amount after its last call, and the payer's voucher for it. */
export type RunLaneClaim = { lane: Lane; cumulative: bigint; signature?: Hex | undefined }

export type SettleRunParameters = {
  /** The Merkle root of the run's receipt. Settled once only. */
  receiptRoot: Hex
  claims: readonly RunLaneClaim[]
}
export type SettleRunReturnType = {
  txHash: Hash
  gasUsed: bigint
  payer: Address
  token: Address
  total: bigint
  /** Every credit, as the ledger emitted it: each model, then its ancestors. */
  credits: Credit[]
  /** Lanes left out because a provider had already redeemed up to (or past) what the run owed. */
  alreadyRedeemed: Hex[]
}
export type SettleRunErrorType = InvalidSettlementError

/** The claims cannot be settled in one transaction as given. */
export class InvalidSettlementError extends BaseError {
  override name = 'InvalidSettlementError' as const
}

/**
 * Settles a run in one transaction: every lane it used is charged up to what the run owes, every model
 * and every ancestor is credited, the receipt root is recorded. Sent by the payer, no signatures are
 * needed; anyone else must give the payer's voucher for each lane. Lanes a provider already redeemed up
 * to the run's amount are left out (they are paid).
 *
 * @example
 * ```ts
 * const { txHash, credits } = await settleRun(client, { receiptRoot, claims: [{ lane, cumulative: 6_000n }] })
 * ```
 */
export async function settleRun(
  client: TributaryClient,
  p: SettleRunParameters,
): Promise<SettleRunReturnType> {
  if (!/^0x[0-9a-fA-F]{64}$/.test(p.receiptRoot) || /^0x0{64}$/.test(p.receiptRoot)) {
    throw new InvalidSettlementError('receiptRoot must be a non-zero 32-byte hex value')
  }
  const merged = mergeClaims(p.claims)
  const first = merged[0]
  if (!first) throw new InvalidSettlementError('a run settlement needs at least one lane claim')
  const { payer, token } = first.lane
  for (const c of merged) {
    if (!isAddressEqual(c.lane.payer, payer)) {
      throw new InvalidSettlementError(
        `claims name two payers (${payer}, ${c.lane.payer}); settle each payer apart`,
      )
    }
    if (!isAddressEqual(c.lane.token, token)) {
      throw new InvalidSettlementError(
        `claims use two tokens (${token}, ${c.lane.token}); one settlement moves one token`,
        {
          metaMessages: ['- Settle each token with its own receipt root, or price every model in one token.'],
        },
      )
    }
  }
  const byPayer = isAddressEqual(client.account.address, payer)
  if (!byPayer) {
    const unsigned = merged.filter((c) => !c.signature)
    if (unsigned.length) {
      throw new InvalidSettlementError(
        `only the payer ${payer} may settle without vouchers; ${unsigned.length} lanes have no signature`,
      )
    }
  }

  for (let attempt = 0; ; attempt++) {
    const states = await Promise.all(merged.map((c) => getLane(client, { laneId: c.lane.laneId })))
    const due: RunLaneClaim[] = []
    const alreadyRedeemed: Hex[] = []
    let total = 0n
    merged.forEach((c, i) => {
      const claimed = states[i]?.claimed ?? 0n
      if (claimed >= c.cumulative) {
        alreadyRedeemed.push(c.lane.laneId)
      } else {
        due.push(c)
        total += c.cumulative - claimed
      }
    })
    try {
      const receipt = await sendContract(client, {
        address: client.addresses.ledger,
        abi: ledgerAbi,
        functionName: 'settle',
        args: [
          payer,
          token,
          total,
          p.receiptRoot,
          encodeLaneClaims(due),
          byPayer ? '0x' : concatHex(due.map((c) => c.signature as Hex)),
        ],
      })
      const [settled] = parseEventLogs({ abi: ledgerAbi, eventName: 'Settled', logs: receipt.logs })
      return {
        txHash: receipt.transactionHash,
        gasUsed: receipt.gasUsed,
        payer,
        token,
        total,
        credits: settled
          ? expandAttribution(decodeAttribution(settled.args.attribution), ancestorsFrom(due))
          : [],
        alreadyRedeemed,
      }
    } catch (err) {
      // a provider redeemed between our read and our transaction: read again once
      if (attempt === 0 && (isRevert(err, 'TotalMismatch') || isRevert(err, 'VoucherNotNewer'))) continue
      throw err
    }
  }
}

/** The ancestor vectors the claims' lanes carry, by model. */
export function ancestorsFrom(claims: readonly { lane: Lane }[]) {
  const byModel = new Map(claims.map((c) => [c.lane.modelId, c.lane.ancestors]))
  return (modelId: bigint) => byModel.get(modelId) ?? []
}

/** One claim per lane: the highest cumulative (and its signature). */
export function mergeClaims<T extends RunLaneClaim>(claims: readonly T[]): T[] {
  const byLane = new Map<string, T>()
  for (const c of claims) {
    const k = c.lane.laneId.toLowerCase()
    const prev = byLane.get(k)
    if (!prev || c.cumulative > prev.cumulative) byLane.set(k, c)
  }
  return [...byLane.values()]
}

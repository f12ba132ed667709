import { type Address, keccak256, toHex } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { readContract } from '../../src/chain/client.js'
import { ContractRevertError } from '../../src/chain/errors.js'
import { ledgerAbi } from '../../src/chain/generated/Ledger.js'
import { type Devnet, startDevnet } from '../../src/chain/startDevnet.js'
import { publishModel } from '../../src/market/publishModel.js'
import { InvalidAssetParametersError } from '../../src/market/terms.js'
import { updateModel } from '../../src/market/updateModel.js'
import { getLane } from '../../src/pay/getLane.js'
import { computeLaneId, lineageHashOf } from '../../src/pay/lane.js'
import { openLicense } from '../../src/pay/openLicense.js'
import { reclaim } from '../../src/pay/reclaim.js'
import { redeemVouchers } from '../../src/pay/redeemVouchers.js'
import { InvalidSettlementError, settleRun } from '../../src/pay/settleRun.js'
import { signVoucher } from '../../src/pay/signVoucher.js'
import { topUpLicense } from '../../src/pay/topUpLicense.js'

let devnet: Devnet
let token: Address
let modelId: bigint
const escrow = (who: Address) =>
  readContract<bigint>(devnet.client(), {
    address: devnet.addresses.ledger,
    abi: ledgerAbi,
    functionName: 'escrowOf',
    args: [token, who],
  })

beforeAll(async () => {
  devnet = await startDevnet({ accounts: 4, reclaimDelay: 600n })
  token = devnet.addresses.stablecoin
  const creator = devnet.accounts[1]!.address
  modelId = (
    await publishModel(devnet.client(1), {
      cardURI: 'http://127.0.0.1/card.json',
      cardHash: keccak256(toHex('card')),
      terms: { token, pricePerCall: 1_000n },
      payees: [{ address: creator, shareBps: 10_000 }],
      royaltyBps: 0,
    })
  ).assetId
})
afterAll(async () => {
  await devnet?.stop()
})

describe('license lanes', () => {
  test('a lane keeps the terms version it was opened under; a price raise above the max is refused', async () => {
    const payer = devnet.client(2)
    const { lane } = await openLicense(payer, { modelId, cap: 10_000n, ttlSeconds: 3600 })
    expect(lane.termsVersion).toBe(1)
    expect(lane.laneId).toBe(computeLaneId(lane))
    expect(lane.lineageHash).toBe(lineageHashOf([]))

    await updateModel(devnet.client(1), {
      assetId: modelId,
      terms: {
        terms: { token, pricePerCall: 5_000n },
        payees: [{ address: devnet.accounts[1]!.address, shareBps: 10_000 }],
      },
    })
    const refused = await openLicense(payer, { modelId, cap: 10_000n, maxPricePerCall: 1_000n }).catch(
      (e) => e,
    )
    expect(refused).toBeInstanceOf(ContractRevertError)
    expect(refused.errorName).toBe('PriceAboveMax')
    expect(refused.shortMessage).toMatch(/costs 5000 per call, above your maximum 1000/)

    const newer = await openLicense(payer, { modelId, cap: 10_000n, ttlSeconds: 3600 })
    expect(newer.lane.termsVersion).toBe(2)
    // the old lane still settles under its own key
    const r = await settleRun(payer, {
      receiptRoot: keccak256(toHex('lanes 1')),
      claims: [{ lane, cumulative: 3_000n }],
    })
    expect(r.total).toBe(3_000n)
  })

  test('top-up, expiry, the grace period for providers, then reclaim of what was never claimed', async () => {
    const payer = devnet.client(3)
    const payerAddress = devnet.accounts[3]!.address
    const { lane, expiresAt } = await openLicense(payer, { modelId, cap: 4_000n, ttlSeconds: 1000 })
    await topUpLicense(payer, { lane, addCap: 6_000n, expiresAt: expiresAt + 1000n })
    expect(await getLane(payer, { laneId: lane.laneId })).toMatchObject({
      cap: 10_000n,
      claimed: 0n,
      expiresAt: expiresAt + 1000n,
    })
    // someone else's lane cannot be topped up
    const foreign = await topUpLicense(devnet.client(2), { lane, addCap: 1n }).catch((e) => e)
    expect(foreign.errorName).toBe('NotLanePayer')

    const account = devnet.accounts[3]!
    const signature = await signVoucher({
      account: account.account,
      privateKey: account.privateKey,
      chainId: devnet.chainId,
      ledger: devnet.addresses.ledger,
      laneId: lane.laneId,
      cumulative: 7_000n,
    })
    // past expiry, inside the reclaim delay: the provider can still redeem; the payer cannot reclaim yet
    await devnet.increaseTime(2100)
    const early = await reclaim(payer, { lane }).catch((e) => e)
    expect(early.errorName).toBe('LaneNotReclaimable')
    const redeemed = await redeemVouchers(devnet.client(1), {
      vouchers: [{ lane, cumulative: 7_000n, signature }],
    })
    expect(redeemed.redemptions[0]?.total).toBe(7_000n)

    await devnet.increaseTime(700)
    const newer = await signVoucher({
      account: account.account,
      privateKey: account.privateKey,
      chainId: devnet.chainId,
      ledger: devnet.addresses.ledger,
      laneId: lane.laneId,
      cumulative: 8_000n,
    })
    const late = await redeemVouchers(devnet.client(1), {
      vouchers: [{ lane, cumulative: 8_000n, signature: newer }],
    }).catch((e) => e)
    expect(late.errorName).toBe('LaneExpired')
    const before = await escrow(payerAddress)
    expect((await reclaim(payer, { lane })).refund).toBe(3_000n)
    expect(await escrow(payerAddress)).toBe(before + 3_000n)
    expect(await getLane(payer, { laneId: lane.laneId })).toMatchObject({ closed: true, remaining: 0n })
    expect((await reclaim(payer, { lane }).catch((e) => e)).errorName).toBe('LaneClosed')
  })

  test('bad parameters are refused before any transaction', async () => {
    const c = devnet.client(1)
    const bad = await publishModel(c, {
      cardURI: 'http://127.0.0.1/x.json',
      cardHash: keccak256(toHex('x')),
      terms: { token, pricePerCall: 1n },
      payees: [{ address: devnet.accounts[1]!.address, shareBps: 9_000 }],
      royaltyBps: 0,
    }).catch((e) => e)
    expect(bad).toBeInstanceOf(InvalidAssetParametersError)
    expect(bad.message).toMatch(/shares must sum to 10 000 bps/)
    await expect(settleRun(c, { receiptRoot: '0x00', claims: [] })).rejects.toBeInstanceOf(
      InvalidSettlementError,
    )
    const unknown = await openLicense(c, { modelId: 999n, cap: 1n }).catch((e) => e)
    expect(unknown).toBeInstanceOf(ContractRevertError)
    expect(unknown.errorName).toBe('UnknownAsset')
  })
})

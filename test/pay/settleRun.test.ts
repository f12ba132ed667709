import { type Address, erc20Abi, type Hex, keccak256, toHex } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { readContract } from '../../src/chain/client.js'
import { ContractRevertError } from '../../src/chain/errors.js'
import { ledgerAbi } from '../../src/chain/generated/Ledger.js'
import { type Devnet, startDevnet } from '../../src/chain/startDevnet.js'
import { getModel } from '../../src/market/getModel.js'
import { publishModel } from '../../src/market/publishModel.js'
import { distribute } from '../../src/pay/distribute.js'
import { getEarnings } from '../../src/pay/getEarnings.js'
import { getLane } from '../../src/pay/getLane.js'
import { splitCredit } from '../../src/pay/lane.js'
import { openLicense } from '../../src/pay/openLicense.js'
import { redeemVouchers } from '../../src/pay/redeemVouchers.js'
import { settleRun } from '../../src/pay/settleRun.js'
import { signVoucher } from '../../src/pay/signVoucher.js'
import { signVouchers } from '../../src/pay/signVouchers.js'
import { withdraw } from '../../src/pay/withdraw.js'

let devnet: Devnet
let token: Address
const cardHash = (s: string) => keccak256(toHex(s))
const balance = (who: Address) =>
  readContract<bigint>(devnet.client(), {
    address: token,
    abi: erc20Abi,
    functionName: 'balanceOf',
    args: [who],
  })

beforeAll(async () => {
  devnet = await startDevnet({ accounts: 9 })
  token = devnet.addresses.stablecoin
})
afterAll(async () => {
  await devnet?.stop()
})

describe('a composite of three models settled in one transaction', () => {
  test('pays every model and every ancestor to the unit, and payees withdraw exactly', async () => {
    const [, alice, bob, carol, dave, payer, aliceFriend] = devnet.accounts.map((a) => a.address) as Address[]
    const [creatorA, creatorB, creatorC, creatorD, payerClient] = [1, 2, 3, 4, 5].map((i) => devnet.client(i))

    // a listed dataset (no endpoint, no price) that asks 5% of every model trained on it
    const dataset = await publishModel(creatorC!, {
      kind: 'dataset',
      cardURI: 'http://127.0.0.1/cards/reviews-corpus.json',
      cardHash: cardHash('reviews-corpus'),
      terms: { pricePerCall: 0n },
      payees: [{ address: carol!, shareBps: 10_000 }],
      royaltyBps: 500,
    })
    // a base sentiment model asking 10% of its derivatives, paid to two payees
    const sentiment = await publishModel(creatorA!, {
      cardURI: 'http://127.0.0.1/cards/sentiment.json',
      cardHash: cardHash('sentiment'),
      terms: { token, pricePerCall: 2_000n },
      payees: [
        { address: alice!, shareBps: 7_000 },
        { address: aliceFriend!, shareBps: 3_000 },
      ],
      royaltyBps: 1_000,
    })
    // derived from sentiment
    const review = await publishModel(creatorB!, {
      cardURI: 'http://127.0.0.1/cards/review-sentiment.json',
      cardHash: cardHash('review-sentiment'),
      terms: { token, pricePerCall: 5_000n },
      payees: [{ address: bob!, shareBps: 10_000 }],
      royaltyBps: 0,
      parents: [sentiment.assetId],
    })
    // trained on the dataset
    const topics = await publishModel(creatorD!, {
      cardURI: 'http://127.0.0.1/cards/topics.json',
      cardHash: cardHash('topics'),
      terms: { token, pricePerCall: 4_000n },
      payees: [{ address: dave!, shareBps: 10_000 }],
      royaltyBps: 0,
      parents: [dataset.assetId],
    })
    expect(review.ancestors).toEqual([{ assetId: sentiment.assetId, bps: 1_000 }])
    expect(topics.ancestors).toEqual([{ assetId: dataset.assetId, bps: 500 }])
    expect((await getModel(payerClient!, { assetId: review.assetId })).ancestors).toEqual(review.ancestors)

    const walletBefore = await balance(payer!)
    const ledgerBefore = await balance(devnet.addresses.ledger)
    const cap = 100_000n
    const lanes = await Promise.all(
      [sentiment, review, topics].map((m) =>
        openLicense(payerClient!, { modelId: m.assetId, cap, ttlSeconds: 3600 }),
      ),
    )
    expect(await balance(payer!)).toBe(walletBefore - 3n * cap)

    // calls: 3 × sentiment (2000), 2 × review (5000), 1 × topics (4000)
    const owed = [6_000n, 10_000n, 4_000n]
    const receiptRoot = keccak256(toHex('run-1'))
    const result = await settleRun(payerClient!, {
      receiptRoot,
      claims: lanes.map((l, i) => ({ lane: l.lane, cumulative: owed[i] as bigint })),
    })
    expect(result.total).toBe(20_000n)
    expect(result.alreadyRedeemed).toEqual([])

    // the independent expectation, from the published terms and lineage
    const reviewSplit = splitCredit(10_000n, review.ancestors)
    const topicsSplit = splitCredit(4_000n, topics.ancestors)
    expect(reviewSplit).toEqual({
      model: 9_000n,
      ancestors: [{ assetId: sentiment.assetId, amount: 1_000n }],
    })
    expect(topicsSplit).toEqual({ model: 3_800n, ancestors: [{ assetId: dataset.assetId, amount: 200n }] })
    expect(result.credits.map((c) => [c.assetId, c.role, c.amount])).toEqual([
      [sentiment.assetId, 'model', 6_000n],
      [review.assetId, 'model', 9_000n],
      [sentiment.assetId, 'ancestor', 1_000n],
      [topics.assetId, 'model', 3_800n],
      [dataset.assetId, 'ancestor', 200n],
    ])
    const credit = (id: bigint) =>
      readContract<bigint>(payerClient!, {
        address: devnet.addresses.ledger,
        abi: ledgerAbi,
        functionName: 'creditOf',
        args: [token, id],
      })
    expect(await credit(sentiment.assetId)).toBe(7_000n)
    expect(await credit(review.assetId)).toBe(9_000n)
    expect(await credit(topics.assetId)).toBe(3_800n)
    expect(await credit(dataset.assetId)).toBe(200n)
    for (const [i, l] of lanes.entries()) {
      const s = await getLane(payerClient!, { laneId: l.lane.laneId })
      expect(s.claimed).toBe(owed[i])
      expect(s.remaining).toBe(cap - (owed[i] as bigint))
    }
    // conservation: the ledger holds exactly the locked caps
    expect(await balance(devnet.addresses.ledger)).toBe(ledgerBefore + 3n * cap)

    const earnings = await getEarnings(payerClient!, { assetId: sentiment.assetId, token })
    expect(earnings).toMatchObject({ asModel: 6_000n, asAncestor: 1_000n, undistributed: 7_000n })
    expect(earnings.fromDerivatives).toEqual([{ modelId: review.assetId, amount: 1_000n }])
    expect(earnings.settlements).toEqual([{ txHash: result.txHash, receiptRoot, amount: 7_000n }])

    // pull payouts: 7000 split 70/30, the dataset's 200 to carol
    const aliceBefore = await balance(alice!)
    const friendBefore = await balance(aliceFriend!)
    const carolBefore = await balance(carol!)
    expect((await distribute(payerClient!, { assetId: sentiment.assetId, token })).amount).toBe(7_000n)
    expect((await distribute(payerClient!, { assetId: dataset.assetId, token })).amount).toBe(200n)
    expect((await withdraw(creatorA!, { token })).amount).toBe(4_900n)
    expect((await withdraw(devnet.client(6), { token })).amount).toBe(2_100n)
    expect((await withdraw(creatorC!, { token })).amount).toBe(200n)
    expect(await balance(alice!)).toBe(aliceBefore + 4_900n)
    expect(await balance(aliceFriend!)).toBe(friendBefore + 2_100n)
    expect(await balance(carol!)).toBe(carolBefore + 200n)
    expect(await credit(sentiment.assetId)).toBe(0n)
    expect(await balance(devnet.addresses.ledger)).toBe(ledgerBefore + 3n * cap - 7_200n)

    // the same receipt root cannot settle twice
    const again = settleRun(payerClient!, {
      receiptRoot,
      claims: [{ lane: lanes[0]!.lane, cumulative: 8_000n }],
    })
    await expect(again).rejects.toBeInstanceOf(ContractRevertError)
    await expect(again).rejects.toMatchObject({ errorName: 'RootAlreadySettled' })

    // a provider redeems the payer's newer voucher alone and is paid exactly what was signed
    const account = devnet.accounts[5]!
    const signature = await signVoucher({
      account: account.account,
      privateKey: account.privateKey,
      chainId: devnet.chainId,
      ledger: devnet.addresses.ledger,
      laneId: lanes[1]!.lane.laneId,
      cumulative: 15_000n,
    })
    const redeemed = await redeemVouchers(creatorB!, {
      vouchers: [
        { lane: lanes[1]!.lane, cumulative: 15_000n, signature },
        { lane: lanes[1]!.lane, cumulative: 12_000n, signature: '0x' as Hex },
      ],
    })
    expect(redeemed.redemptions).toHaveLength(1)
    expect(redeemed.redemptions[0]!.total).toBe(5_000n)
    expect(await credit(review.assetId)).toBe(9_000n + 4_500n)
    // replaying the same voucher moves nothing
    const replay = await redeemVouchers(creatorB!, {
      vouchers: [{ lane: lanes[1]!.lane, cumulative: 15_000n, signature }],
    })
    expect(replay).toEqual({ redemptions: [], stale: [lanes[1]!.lane.laneId] })

    // vouchers signed in a batch are redeemed with their proofs; a proof of another voucher is refused
    const batch = await signVouchers({
      account: account.account,
      privateKey: account.privateKey,
      chainId: devnet.chainId,
      ledger: devnet.addresses.ledger,
      vouchers: [16_000n, 17_000n].map((cumulative) => ({ laneId: lanes[1]!.lane.laneId, cumulative })),
    })
    const wrong = redeemVouchers(creatorB!, {
      vouchers: [
        { lane: lanes[1]!.lane, cumulative: 16_000n, signature: batch.signature, proof: batch.proofs[1] },
      ],
    })
    await expect(wrong).rejects.toMatchObject({ errorName: 'InvalidVoucherSignature' })
    await expect(wrong).rejects.toThrow(/redeemWithProofs/)
    const proven = await redeemVouchers(creatorB!, {
      vouchers: [
        { lane: lanes[1]!.lane, cumulative: 17_000n, signature: batch.signature, proof: batch.proofs[1] },
      ],
    })
    expect(proven.redemptions[0]!.total).toBe(2_000n)
    expect((await getLane(creatorB!, { laneId: lanes[1]!.lane.laneId })).claimed).toBe(17_000n)
  })
})

// npm run bench:gas — gas of one settlement of K models (2 payees and 1 ancestor each) against the naive
// way (an ERC-20 transfer to every payee and ancestor by bench/contracts/NaivePay.sol), on a fresh anvil.
// Gas is deterministic: one run gives the figures. Writes bench/results/gas.json.
import { writeFileSync } from 'node:fs'
import os from 'node:os'
import { type Abi, type Address, erc20Abi, type Hex, keccak256, toHex } from 'viem'
import { compile } from '../scripts/build-contracts.mjs'
import { readContract, sendContract } from '../src/chain/client.js'
import { modelRegistryAbi } from '../src/chain/generated/ModelRegistry.js'
import { startDevnet } from '../src/chain/startDevnet.js'
import { publishModel } from '../src/market/publishModel.js'
import { openLicense } from '../src/pay/openLicense.js'
import { settleRun } from '../src/pay/settleRun.js'

const KS = [1, 2, 5, 10, 20]
const PRICE = 1_000_000n

const devnet = await startDevnet({ accounts: 6 })
try {
  const owner = devnet.client(0)
  const payer = devnet.client(1)
  const token = devnet.addresses.stablecoin
  const [p1, p2, p3, p4] = devnet.accounts.slice(2, 6).map((a) => a.address) as [
    Address,
    Address,
    Address,
    Address,
  ]
  let run = 0

  const assetCount = () =>
    readContract<bigint>(owner, {
      address: devnet.addresses.registry,
      abi: modelRegistryAbi,
      functionName: 'assetCount',
    })
  const publish = (parents: bigint[], royaltyBps: number, payees: [Address, Address]) =>
    publishModel(owner, {
      cardURI: 'http://127.0.0.1/card.json',
      cardHash: keccak256(toHex(`card ${Math.random()}`)),
      terms: { token, pricePerCall: PRICE },
      payees: [
        { address: payees[0], shareBps: 6_000 },
        { address: payees[1], shareBps: 4_000 },
      ],
      royaltyBps,
      parents,
    })
  /** Registers fillers until the next asset id has the wanted parity (credits are packed two per slot). */
  const alignTo = async (parity: 0n | 1n) => {
    while ((await assetCount()) % 2n !== (parity === 0n ? 1n : 0n)) await publish([], 0, [p3, p4])
  }

  /**
   * `isolated`: no two credited assets share a credit slot (worst case). `family`: each model is
   * registered right after its ancestor and shares its slot (a base model and its derivative).
   */
  async function family(k: number, layout: 'isolated' | 'family', ancestorsPerModel: 0 | 1) {
    const models: bigint[] = []
    for (let i = 0; i < k; i++) {
      const parents: bigint[] = []
      if (ancestorsPerModel) {
        await alignTo(0n)
        parents.push((await publish([], 1_000, [p3, p4])).assetId)
        if (layout === 'isolated') await alignTo(0n)
      } else {
        await alignTo(0n)
      }
      models.push((await publish(parents, 0, [p1, p2])).assetId)
    }
    return models
  }

  async function settleModels(models: bigint[]) {
    const lanes = []
    for (const m of models)
      lanes.push((await openLicense(payer, { modelId: m, cap: 100n * PRICE, ttlSeconds: 3600 })).lane)
    const r = await settleRun(payer, {
      receiptRoot: keccak256(toHex(`run ${run++}`)),
      claims: lanes.map((lane) => ({ lane, cumulative: 3n * PRICE })),
    })
    return r.gasUsed
  }

  async function chainOfAncestors(m: number) {
    let parent: bigint[] = []
    for (let i = 0; i < m; i++) {
      await alignTo(0n)
      parent = [(await publish(parent, 100, [p3, p4])).assetId]
    }
    await alignTo(0n)
    return (await publish(parent, 0, [p1, p2])).assetId
  }

  // the naive reference
  const naive = compile(['bench/contracts/NaivePay.sol'])['bench/contracts/NaivePay.sol']?.NaivePay
  if (!naive) throw new Error('NaivePay did not compile')
  const naiveAbi = naive.abi as Abi
  const naiveHash = await payer.walletClient.deployContract({
    abi: naiveAbi,
    bytecode: `0x${naive.evm.bytecode.object}` as Hex,
    account: payer.account,
    chain: payer.chain,
  })
  const naiveAddress = (await payer.publicClient.waitForTransactionReceipt({ hash: naiveHash }))
    .contractAddress as Address
  await sendContract(payer, {
    address: token,
    abi: erc20Abi,
    functionName: 'approve',
    args: [naiveAddress, 2n ** 255n],
  })
  async function naivePay(k: number): Promise<bigint> {
    // per model: its two payees and its ancestor's payee, balances already non-zero (steady state)
    const to: Address[] = []
    const amounts: bigint[] = []
    for (let i = 0; i < k; i++) {
      const base = BigInt(i) * 3n
      to.push(addr(base + 1n), addr(base + 2n), addr(base + 3n))
      amounts.push(1_620_000n, 1_080_000n, 300_000n)
    }
    const call = { address: naiveAddress, abi: naiveAbi, functionName: 'pay', args: [token, to, amounts] }
    await sendContract(payer, call) // first: creates the recipients' balances
    return (await sendContract(payer, call)).gasUsed
  }
  const addr = (i: bigint) => `0x${(0xbe00n * 2n ** 144n + i).toString(16).padStart(40, '0')}` as Address

  const rows: Record<string, number | string>[] = []
  const series = {
    isolated: {} as Record<number, number>,
    family: {} as Record<number, number>,
    noAncestors: {} as Record<number, number>,
    naive: {} as Record<number, number>,
  }
  for (const k of KS) {
    series.isolated[k] = Number(await settleModels(await family(k, 'isolated', 1)))
    series.family[k] = Number(await settleModels(await family(k, 'family', 1)))
    series.noAncestors[k] = Number(await settleModels(await family(k, 'isolated', 0)))
    series.naive[k] = Number(await naivePay(k))
    rows.push({
      K: k,
      isolated: series.isolated[k],
      family: series.family[k],
      'no ancestors': series.noAncestors[k],
      naive: series.naive[k],
    })
  }
  const ancestorSeries: Record<number, number> = {}
  for (const m of [1, 2, 5, 10, 20])
    ancestorSeries[m] = Number(await settleModels([await chainOfAncestors(m)]))

  const slope = (s: Record<number, number>, a: number, b: number) =>
    ((s[b] as number) - (s[a] as number)) / (b - a)
  const perModel = slope(series.noAncestors, 1, 20)
  const perAncestor = slope(ancestorSeries, 1, 20)
  const perModelWithAncestorIsolated = slope(series.isolated, 1, 20)
  const perModelWithAncestorFamily = slope(series.family, 1, 20)
  const naivePerModel = slope(series.naive, 1, 20)

  const result = {
    machine: `${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`,
    chain: 'anvil 1.7.1 (prague), solc 0.8.37 optimizer 200 runs',
    note: 'transaction gasUsed including the 21 000 base and calldata; settlement by the payer itself (no signatures); steady state (credit slots seeded at registration, payee balances non-zero for the naive way)',
    marginalGasPerModel: Math.round(perModel),
    marginalGasPerAncestor: Math.round(perAncestor),
    marginalGasPerModelWithAncestorIsolated: Math.round(perModelWithAncestorIsolated),
    marginalGasPerModelWithAncestorFamily: Math.round(perModelWithAncestorFamily),
    composite5Models5AncestorsGas: series.isolated[5],
    composite5Models5AncestorsGasFamily: series.family[5],
    naiveComposite5Models5AncestorsGas: series.naive[5],
    naiveMarginalGasPerModel: Math.round(naivePerModel),
    settlementGasByK: series.isolated,
    settlementGasByKFamily: series.family,
    settlementGasByKNoAncestors: series.noAncestors,
    naiveGasByK: series.naive,
    settlementGasByAncestorCount: ancestorSeries,
    targets: {
      marginalGasPerModel: 11_000,
      marginalGasPerAncestor: 5_500,
      composite5Models5AncestorsGas: 120_000,
    },
  }
  console.table(rows)
  console.table({
    'marginal per model (lane update included)': { gas: result.marginalGasPerModel, target: 11_000 },
    'marginal per ancestor credit': { gas: result.marginalGasPerAncestor, target: 5_500 },
    'marginal per model + its ancestor, isolated slots': {
      gas: result.marginalGasPerModelWithAncestorIsolated,
      target: '',
    },
    'marginal per model + its ancestor, family slots': {
      gas: result.marginalGasPerModelWithAncestorFamily,
      target: '',
    },
    'naive marginal per model (3 transfers)': { gas: result.naiveMarginalGasPerModel, target: '' },
    '5 models + 5 ancestors, isolated': { gas: result.composite5Models5AncestorsGas, target: 120_000 },
    '5 models + 5 ancestors, family': { gas: result.composite5Models5AncestorsGasFamily, target: 120_000 },
    '5 models + 5 ancestors, naive transfers': { gas: result.naiveComposite5Models5AncestorsGas, target: '' },
  })
  writeFileSync('bench/results/gas.json', `${JSON.stringify(result, null, 2)}\n`)
  console.log('wrote bench/results/gas.json')
} finally {
  await devnet.stop()
}

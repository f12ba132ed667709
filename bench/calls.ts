// npm run bench:calls — paid calls per second and p50/p99 latency over loopback HTTP for a trivial model
// with full voucher checking, against the same server with payment switched off, in the same run; then
// the latency of one paid call to each real catalog model. The providers run in a child process (this
// file with --provider), the load generator here, so each has a core of the 2-core machine. On-chain
// transactions are counted by block number around the paid runs (lane opening excluded). Medians of
// several alternating runs. Writes bench/results/calls.json. `npm run bench:calls` compiles it (and the code
// it measures) with tsc first and runs the JavaScript, as the package ships; `npx tsx bench/calls.ts` runs the
// sources.
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Address, Hex } from 'viem'
import * as z from 'zod'
import { type CatalogId, createCatalog, sampleInputs, warmCatalog } from '../catalog/index.js'
import { connect } from '../src/chain/connect.js'
import { startDevnet } from '../src/chain/startDevnet.js'
import { publishModel } from '../src/market/publishModel.js'
import { callModel } from '../src/models/callModel.js'
import { createWallet, type Wallet } from '../src/models/createWallet.js'
import { defineModel, type ModelDefinition } from '../src/models/defineModel.js'
import { type ServeModelsReturnType, serveModels } from '../src/models/serveModels.js'
import { recoverDigestSignerNative, signDigestNative } from '../src/pay/voucher.js'
import type { ResolvedModel } from '../src/workflow/types.js'
import { codeMeasured, resultsFile } from './resultsFile.js'

const RUNS = Number(process.env.BENCH_RUNS ?? 7)
const RUN_MS = Number(process.env.BENCH_RUN_MS ?? 2_000)
const WARM_MS = Number(process.env.BENCH_WARM_MS ?? 2_000)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32)
const CATALOG_CALLS = Number(process.env.BENCH_CATALOG_CALLS ?? 10)
const PRICE = 10n
const THRESHOLD = 1_000_000n

const echo = (payee: Address, id: string) =>
  defineModel({
    id,
    version: '1.0.0',
    description: 'Returns its input: the cheapest possible model, so the bench measures the call path.',
    capabilities: ['bench.echo'],
    input: z.object({ text: z.string().max(1_000) }).strict(),
    output: z.object({ text: z.string() }),
    terms: { pricePerCall: PRICE, payees: [{ address: payee, shareBps: 10_000 }], royaltyBps: 0 },
    run: async ({ text }) => ({ text }),
  })

type Listing = { endpoint: string; assetId: string; model: ModelDefinition['card'] }
type ProviderInfo = { paid: Listing; free: Listing; catalog: Listing[] }

// ------------------------------------------------------------------------------------------ provider
if (process.argv[2] === '--provider') {
  const [rpcUrl, registry, ledger, stablecoin, key] = process.argv.slice(3) as [
    string,
    Address,
    Address,
    Address,
    Hex,
  ]
  const client = await connect({ rpcUrl, account: key, addresses: { registry, ledger, stablecoin } })
  const me = client.account.address
  const paidModel = echo(me, 'bench/echo')
  const freeModel = echo(me, 'bench/echo-free')
  const withCatalog = process.env.BENCH_CATALOG !== '0'
  const catalog = createCatalog({ payees: me })
  if (withCatalog) await warmCatalog(catalog)
  const assetIds: Record<string, bigint> = {}
  const opts = {
    client,
    assetIds: (id: string) => assetIds[id],
    limits: { perPayerPerSecond: 1_000_000 },
    redeem: { exposureThreshold: THRESHOLD },
  }
  const paid = await serveModels([paidModel], opts)
  const free = await serveModels([freeModel], { ...opts, payment: 'off' })
  const cat = await serveModels(catalog.all, opts)
  const publish = async (m: ModelDefinition, server: ServeModelsReturnType) => {
    const card = m.runnable ? m.cardFor({ endpoint: server.endpoint(m.id) }) : m.card
    const r = await publishModel(client, {
      kind: m.kind,
      cardURI: server.cardUrl(m.id),
      cardHash: m.cardHash(card),
      terms: m.runnable ? { token: stablecoin, pricePerCall: m.terms.pricePerCall } : { pricePerCall: 0n },
      payees: m.terms.payees,
      royaltyBps: m.terms.royaltyBps,
      parents: m.lineage.parents.map((p) => assetIds[p] as bigint),
    })
    assetIds[m.id] = r.assetId
    return { endpoint: server.endpoint(m.id), assetId: r.assetId.toString(), model: card }
  }
  const info: ProviderInfo = {
    paid: await publish(paidModel, paid),
    free: {
      endpoint: free.endpoint(freeModel.id),
      assetId: '0',
      model: freeModel.cardFor({ endpoint: free.endpoint(freeModel.id) }),
    },
    catalog: [],
  }
  for (const m of withCatalog ? catalog.all : []) {
    const l = await publish(m, cat)
    if (m.runnable) info.catalog.push(l)
  }
  process.stdout.write(`${JSON.stringify(info)}\n`)
  // the load generator asks for the paid server's counts (the provider's stats are not public)
  process.on('message', (m) => {
    if (m === 'stats')
      process.send?.({ paid: paid.stats.calls.paid, receiptSignatures: paid.stats.receiptSignatures })
  })
  process.on('SIGTERM', async () => {
    await Promise.all([paid.stop({ redeem: false }), free.stop(), cat.stop({ redeem: false })])
    await catalog.close()
    process.exit(0)
  })
} else {
  await main()
}

// ---------------------------------------------------------------------------------------- generator
async function main() {
  const loadAvgAtStart = os.loadavg().map(round)
  const devnet = await startDevnet({ accounts: 4 })
  let child: ChildProcess | undefined
  try {
    const a = devnet.addresses
    child = spawn(
      process.execPath,
      [
        ...(process.env.BENCH_CHILD_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof2'] : []),
        // from the sources through tsx; compiled (npm run bench:calls), as plain JavaScript
        ...(import.meta.url.endsWith('.ts') ? ['--import', 'tsx'] : []),
        fileURLToPath(import.meta.url),
        '--provider',
        devnet.rpcUrl,
        a.registry,
        a.ledger,
        a.stablecoin,
        devnet.accounts[1]?.privateKey as string,
      ],
      { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
    )
    const info = JSON.parse(
      await new Promise<string>((resolve, reject) => {
        createInterface({ input: child?.stdout as NodeJS.ReadableStream }).once('line', resolve)
        child?.once('exit', (code) => reject(new Error(`the provider process exited with ${code}`)))
      }),
    ) as ProviderInfo
    const token = a.stablecoin
    const resolved = (l: Listing): ResolvedModel => ({
      assetId: BigInt(l.assetId),
      id: l.model.id,
      version: l.model.version,
      capabilities: l.model.capabilities,
      inputSchema: l.model.input ?? {},
      outputSchema: l.model.output ?? {},
      pricePerCall: BigInt(l.model.terms.pricePerCall),
      token,
      endpoint: l.endpoint,
    })
    const paidWallet = createWallet({ client: devnet.client(2), lanes: { calls: 10_000_000 } })
    const freeWallet = createWallet({ client: devnet.client(3) })
    const paidModel = resolved(info.paid)
    const freeModel = resolved(info.free)

    // warm both paths: one call each first (the paid one opens the lane: the one transaction excluded
    // from the count), then a second of load each, so that the first timed run of neither path still
    // pays for the lane opening or for compiling its code
    await callModel(paidModel, { text: 'warm' }, { wallet: paidWallet })
    await callModel(freeModel, { text: 'warm' }, { wallet: freeWallet })
    await load(paidModel, paidWallet, WARM_MS)
    await load(freeModel, freeWallet, WARM_MS)

    const block0 = await devnet.client(0).publicClient.getBlockNumber()
    const paidRuns: RunResult[] = []
    const freeRuns: RunResult[] = []
    for (let r = 0; r < RUNS; r++) {
      paidRuns.push(await load(paidModel, paidWallet, RUN_MS, child.pid))
      freeRuns.push(await load(freeModel, freeWallet, RUN_MS, child.pid))
      const last = paidRuns[paidRuns.length - 1] as RunResult
      const lastFree = freeRuns[freeRuns.length - 1] as RunResult
      console.log(
        `run ${r + 1}/${RUNS}: paid ${last.perSec.toFixed(0)}/s p50 ${last.p50.toFixed(2)} ms p99 ${last.p99.toFixed(2)} ms cpu ${last.clientCpuUs.toFixed(0)}+${last.serverCpuUs.toFixed(0)} µs/call | unpaid ${lastFree.perSec.toFixed(0)}/s p50 ${lastFree.p50.toFixed(2)} ms p99 ${lastFree.p99.toFixed(2)} ms cpu ${lastFree.clientCpuUs.toFixed(0)}+${lastFree.serverCpuUs.toFixed(0)} µs/call`,
      )
    }
    const block1 = await devnet.client(0).publicClient.getBlockNumber()
    const paidCalls = paidRuns.reduce((s, r) => s + r.calls, 0)
    // the provider signs the receipts of the calls it finishes together once: how many per signature
    const served = await new Promise<{ paid: number; receiptSignatures: number }>((resolve) => {
      child?.once('message', (m) => resolve(m as { paid: number; receiptSignatures: number }))
      child?.send('stats')
    })
    const receiptsPerSignature = served.paid / Math.max(1, served.receiptSignatures)
    // the payer signs the vouchers of the calls it starts together once: how many per signature
    const voucherStats = paidWallet.state.voucherSigner?.stats ?? { vouchers: 0, signatures: 0 }
    const vouchersPerSignature = voucherStats.vouchers / Math.max(1, voucherStats.signatures)
    const voucherRecoveryUs = recoveryUs()

    // the real catalog models: one lane each (opened by the first call, not timed), then timed calls
    const inputs = sampleInputs()
    const catalogWallet = createWallet({ client: devnet.client(2) })
    const catalog = []
    for (const l of info.catalog) {
      const input = inputs.get(l.model.id as CatalogId)
      const m = resolved(l)
      await callModel(m, input, { wallet: catalogWallet })
      const lat: number[] = []
      for (let i = 0; i < CATALOG_CALLS; i++) {
        const t = performance.now()
        const r = await callModel(m, input, { wallet: catalogWallet })
        lat.push(performance.now() - t)
        if (!r.payment) throw new Error('a catalog call was not paid')
      }
      lat.sort((x, y) => x - y)
      catalog.push({
        id: l.model.id,
        pricePerCall: l.model.terms.pricePerCall,
        calls: CATALOG_CALLS,
        p50Ms: round(pct(lat, 0.5)),
        p99Ms: round(pct(lat, 0.99)),
        minMs: round(lat[0] ?? 0),
      })
    }

    const med = (xs: number[]) =>
      pct(
        [...xs].sort((x, y) => x - y),
        0.5,
      )
    // each paid run against the unpaid run right after it: the machine's drift between pairs cancels out
    const pairCosts = paidRuns
      .map((r, i) => (1 - r.perSec / (freeRuns[i] as RunResult).perSec) * 100)
      .sort((x, y) => x - y)
    const paidCallsPerSec = round(med(paidRuns.map((r) => r.perSec)))
    const unpaidCallsPerSec = round(med(freeRuns.map((r) => r.perSec)))
    const result = {
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        memGiB: round(os.totalmem() / 2 ** 30),
        node: process.version,
        platform: `${os.platform()} ${os.arch()}`,
        loadAvgAtStart,
        note: 'provider in a child process, load generator in this one; shared with other workloads',
      },
      code: codeMeasured(import.meta.url),
      runs: RUNS,
      runMs: RUN_MS,
      concurrency: CONCURRENCY,
      pricePerCall: Number(PRICE),
      paidCallsPerSec,
      unpaidCallsPerSec,
      paidToUnpaidRatio: round(paidCallsPerSec / unpaidCallsPerSec),
      paymentCostPct: round((1 - paidCallsPerSec / unpaidCallsPerSec) * 100),
      // the median over the pairs (the headline figure above is the ratio of the two medians), and the quartiles
      // of the pairs: how far other work on the machine moves a single pair
      paymentCostPctPairs: round(pct(pairCosts, 0.5)),
      paymentCostPctPairsQuartiles: [round(pct(pairCosts, 0.25)), round(pct(pairCosts, 0.75))],
      paidP50Ms: round(med(paidRuns.map((r) => r.p50))),
      paidP99Ms: round(med(paidRuns.map((r) => r.p99))),
      unpaidP50Ms: round(med(freeRuns.map((r) => r.p50))),
      unpaidP99Ms: round(med(freeRuns.map((r) => r.p99))),
      // CPU per call (load generator + provider) is far less sensitive to other work on the machine than
      // calls per second; the capacity is what the busier of the two processes allows on a free core each
      paidCpuUsPerCall: {
        client: round(med(paidRuns.map((r) => r.clientCpuUs))),
        provider: round(med(paidRuns.map((r) => r.serverCpuUs))),
      },
      unpaidCpuUsPerCall: {
        client: round(med(freeRuns.map((r) => r.clientCpuUs))),
        provider: round(med(freeRuns.map((r) => r.serverCpuUs))),
      },
      paymentCpuCostPct: round(
        (med(paidRuns.map((r) => r.clientCpuUs + r.serverCpuUs)) /
          med(freeRuns.map((r) => r.clientCpuUs + r.serverCpuUs)) -
          1) *
          100,
      ),
      paidCallsPerSecOnTwoFreeCores: round(
        1e6 / Math.max(med(paidRuns.map((r) => r.clientCpuUs)), med(paidRuns.map((r) => r.serverCpuUs))),
      ),
      unpaidCallsPerSecOnTwoFreeCores: round(
        1e6 / Math.max(med(freeRuns.map((r) => r.clientCpuUs)), med(freeRuns.map((r) => r.serverCpuUs))),
      ),
      loadAvgAtEnd: os.loadavg().map(round),
      paidCalls,
      onchainTxPerCall: Number(block1 - block0) / paidCalls,
      onchainTxDuringPaidRuns: Number(block1 - block0),
      redemptionEveryCalls: Number(THRESHOLD / PRICE),
      receiptsPerSignature: round(receiptsPerSignature),
      vouchersPerSignature: round(vouchersPerSignature),
      // one native secp256k1 recovery (what a voucher signed alone costs the provider to check), timed here
      voucherRecoveryUs: round(voucherRecoveryUs),
      perRun: { paid: paidRuns.map(summary), unpaid: freeRuns.map(summary) },
      catalog,
      targets: { paymentCostPctAtMost: 25, paidCallsPerSecAtLeast: 1_500, onchainTxPerCall: 0 },
    }
    writeFileSync(resultsFile('calls.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`)
    console.table({
      paid: { 'calls/s': paidCallsPerSec, 'p50 ms': result.paidP50Ms, 'p99 ms': result.paidP99Ms },
      unpaid: { 'calls/s': unpaidCallsPerSec, 'p50 ms': result.unpaidP50Ms, 'p99 ms': result.unpaidP99Ms },
    })
    console.log(
      `payment costs ${result.paymentCostPct}% of unpaid throughput (target ≤ 25%; median of the pairs of runs: ${result.paymentCostPctPairs}%, quartiles ${result.paymentCostPctPairsQuartiles.join('–')}%); ${paidCallsPerSec} paid calls/s (target ≥ 1500); ${result.onchainTxPerCall} on-chain tx per call (${result.onchainTxDuringPaidRuns} tx over ${paidCalls} calls)`,
    )
    console.log(
      `the provider signed ${result.receiptsPerSignature} receipts per signature and the payer ${result.vouchersPerSignature} vouchers per signature on average; one signature recovery costs ${result.voucherRecoveryUs} µs`,
    )
    console.log(
      `CPU per call (client + provider): paid ${result.paidCpuUsPerCall.client} + ${result.paidCpuUsPerCall.provider} µs, unpaid ${result.unpaidCpuUsPerCall.client} + ${result.unpaidCpuUsPerCall.provider} µs (payment +${result.paymentCpuCostPct}% CPU); on two free cores: ${result.paidCallsPerSecOnTwoFreeCores} paid / ${result.unpaidCallsPerSecOnTwoFreeCores} unpaid calls/s`,
    )
    console.table(
      Object.fromEntries(
        catalog.map((c) => [c.id, { 'p50 ms': c.p50Ms, 'p99 ms': c.p99Ms, price: c.pricePerCall }]),
      ),
    )
    console.log('wrote bench/results/calls.json')
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.once('exit', r))
      child.kill('SIGTERM')
      const t = setTimeout(() => child?.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(t)
    }
    await devnet.stop()
  }
}

type RunResult = {
  calls: number
  perSec: number
  p50: number
  p99: number
  errors: number
  clientCpuUs: number
  serverCpuUs: number
}

/** µs per native recovery of a signer from a digest and signature (the provider's check of each voucher). */
function recoveryUs(): number {
  const key = `0x${'42'.repeat(32)}` as Hex
  const digests = Array.from({ length: 64 }, (_, i) => new Uint8Array(32).fill(i + 1))
  const signatures = digests.map((d) => signDigestNative(d, key) as Hex)
  const runs: number[] = []
  for (let r = 0; r < 7; r++) {
    const t = performance.now()
    for (let i = 0; i < 2_000; i++)
      recoverDigestSignerNative(digests[i & 63] as Uint8Array, signatures[i & 63] as Hex)
    runs.push(((performance.now() - t) * 1000) / 2_000)
  }
  return pct(
    runs.sort((x, y) => x - y),
    0.5,
  )
}

/** CPU time (µs) a process has used, from /proc (Linux); NaN elsewhere. */
function cpuOf(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(f[11]) + Number(f[12])) * 1e6) / 100
  } catch {
    return Number.NaN
  }
}

/** Keeps CONCURRENCY calls in flight for `ms` and measures each. */
async function load(model: ResolvedModel, wallet: Wallet, ms: number, pid?: number): Promise<RunResult> {
  const cpu0 = process.cpuUsage()
  const server0 = cpuOf(pid)
  const lat: number[] = []
  let errors = 0
  const start = performance.now()
  const end = start + ms
  let n = 0
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now()
      try {
        await callModel(model, { text: `hello ${n++}` }, { wallet })
        lat.push(performance.now() - t)
      } catch (err) {
        errors++
        if (errors < 3) console.error(err)
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  const elapsed = performance.now() - start
  const cpu = process.cpuUsage(cpu0)
  const server = cpuOf(pid) - server0
  lat.sort((x, y) => x - y)
  return {
    clientCpuUs: (cpu.user + cpu.system) / Math.max(1, lat.length),
    serverCpuUs: server / Math.max(1, lat.length),
    calls: lat.length,
    perSec: (lat.length / elapsed) * 1000,
    p50: pct(lat, 0.5),
    p99: pct(lat, 0.99),
    errors,
  }
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number
}
function round(x: number) {
  return Math.round(x * 100) / 100
}
function summary(r: RunResult) {
  return {
    calls: r.calls,
    perSec: round(r.perSec),
    p50Ms: round(r.p50),
    p99Ms: round(r.p99),
    errors: r.errors,
    clientCpuUs: round(r.clientCpuUs),
    providerCpuUs: round(r.serverCpuUs),
  }
}

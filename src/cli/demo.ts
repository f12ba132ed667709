import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { type Address, formatUnits } from 'viem'
import { type Devnet, startDevnet } from '../chain/startDevnet.js'
import { BaseError } from '../errors/base.js'
import { createDiscoveryIndex } from '../market/createDiscoveryIndex.js'
import { createMarketCaller } from '../models/createMarketCaller.js'
import { createWallet } from '../models/createWallet.js'
import type { ModelDefinition } from '../models/defineModel.js'
import { publish } from '../models/publish.js'
import { serveModels } from '../models/serveModels.js'
import type { Credit } from '../pay/lane.js'
import { createChainSettler } from '../workflow/createChainSettler.js'
import type { RunEvent } from '../workflow/events.js'
import { formatPlan, plan } from '../workflow/plan.js'
import { run } from '../workflow/run.js'
import type { Workflow } from '../workflow/workflow.js'
import type { DemoFlags } from './args.js'
import { formatTable } from './table.js'

/** The demo could not load its catalog, workflow or image. */
export class DemoError extends BaseError {
  override name = 'DemoError' as const
}

type CatalogModule = {
  createCatalog(options: { payees: (id: string) => { address: Address; shareBps: number }[] }): {
    all: readonly ModelDefinition[]
    models: readonly ModelDefinition[]
    close(): Promise<void>
  }
  loadSampleDocument(): { image: string; text: string }
}
type WorkflowsModule = { documentIntelligence: Workflow<never, unknown> }

/** What `npm start -- --json` prints. */
export type DemoReport = {
  chain: {
    rpcUrl: string
    chainId: number
    registry: Address
    ledger: Address
    token: Address
    decimals: number
  }
  listings: {
    assetId: string
    id: string
    kind: string
    pricePerCall: string
    royaltyBps: number
    parents: string[]
  }[]
  runs: {
    id: string
    workflow: string
    receiptRoot: string
    settlementTx: string
    settlementGas: string
    calls: number
    paid: string
    output: unknown
  }[]
  credits: {
    assetId: string
    id: string
    role: 'model' | 'ancestor'
    ofModel: string
    payee: Address
    amount: string
    settlementTx: string
  }[]
  totals: { paid: string; toModels: string; toAncestors: string }
  timingsMs: Record<string, number>
}

const DECIMALS = 6

/**
 * The local marketplace in one command: a devnet with the contracts, the bundled offline models served by
 * one provider and published with their lineage, the document-intelligence workflow run through the
 * engine over the real models on a bundled image, settled in one transaction, and the royalty table.
 * Progress goes to stderr; with `--json` stdout holds one JSON object and nothing else.
 */
export async function runDemo(flags: DemoFlags): Promise<{ ok: boolean; report?: DemoReport }> {
  const t0 = performance.now()
  const timings: Record<string, number> = {}
  const mark = (name: string) => {
    timings[name] = Math.round(performance.now() - t0)
  }
  const say = (msg: string) => process.stderr.write(`${flags.json ? '' : '▸ '}${msg}\n`)
  const root = projectRoot()
  // src/ never imports catalog/ or workflows/: the demo loads them at run time
  const catalogModule = (await importFrom(root, 'catalog/index')) as CatalogModule
  const { documentIntelligence } = (await importFrom(
    root,
    'workflows/documentIntelligence',
  )) as WorkflowsModule
  const image = flags.image
    ? readPng(flags.image).toString('base64')
    : catalogModule.loadSampleDocument().image

  say('starting a local chain (anvil) and deploying the registry, the ledger and a test stablecoin')
  const devnet: Devnet = await startDevnet({ accounts: 10 })
  let closeAll = async () => {
    await devnet.stop()
  }
  try {
    mark('devnet')
    const token = devnet.addresses.stablecoin
    // who is who: 0 deploys, 1 runs the provider, 2–8 are the creators, 9 pays for the run
    const creators: Record<string, number> = {
      'tributary/ocr': 2,
      'tributary/language-id': 3,
      'tributary/sentiment': 4,
      'tributary/entities': 5,
      'tributary/summarize': 6,
      'tributary/reviews-corpus': 7,
      'tributary/review-sentiment': 8,
    }
    const payeeOf = (id: string) => devnet.accounts[creators[id] ?? 2]?.address as Address
    const catalog = catalogModule.createCatalog({
      payees: (id) => [{ address: payeeOf(id), shareBps: 10_000 }],
    })
    const assetIds = new Map<string, bigint>()
    say(`serving ${catalog.models.length} offline models and 1 dataset from one provider on 127.0.0.1`)
    const provider = await serveModels(catalog.all as ModelDefinition[], {
      client: devnet.client(1),
      token,
      assetIds: (id) => assetIds.get(id),
    })
    const stopChain = closeAll
    closeAll = async () => {
      await provider.stop({ redeem: false }).catch(() => undefined)
      await catalog.close().catch(() => undefined)
      await stopChain()
    }
    mark('provider')

    const listings: DemoReport['listings'] = []
    for (const def of catalog.all) {
      const owner = devnet.client(creators[def.id] ?? 2)
      // the creator hosts its model with the provider, which signs receipts on its behalf
      const published = await publish(owner, def, {
        cardURI: provider.cardUrl(def.id),
        endpoint: def.runnable ? provider.endpoint(def.id) : undefined,
        token,
        parents: (id) => assetIds.get(id),
        operator: devnet.accounts[1]?.address as Address,
      })
      assetIds.set(def.id, published.assetId)
      listings.push({
        assetId: published.assetId.toString(),
        id: def.id,
        kind: def.kind,
        pricePerCall: formatUnits(def.terms.pricePerCall, DECIMALS),
        royaltyBps: def.terms.royaltyBps,
        parents: [...def.lineage.parents],
      })
      say(
        `published ${def.id} as asset ${published.assetId}` +
          (published.ancestors.length
            ? ` (ancestors: ${published.ancestors.map((a) => `${nameOf(assetIds, a.assetId)} ${a.bps / 100}%`).join(', ')})`
            : ''),
      )
    }
    mark('published')

    const payer = devnet.client(9)
    const index = createDiscoveryIndex({ client: payer })
    await index.start()
    index.stop()
    const verified = index.listings().filter((l) => l.card).length
    say(
      `discovery index: ${verified}/${index.listings().length} cards fetched and checked against their on-chain hash`,
    )
    mark('indexed')

    const wallet = createWallet({
      client: payer,
      policy: { perCall: 10_000n, perRun: 100_000n, perDay: 1_000_000n },
    })
    const caller = createMarketCaller({ wallet })
    const settler = createChainSettler(payer)
    const input = { image, maxSentences: 2 }
    const budget = 50_000n
    const quote = await plan(documentIntelligence, { directory: index, budget })
    if (!flags.json) process.stderr.write(`${formatPlan(quote, { warnings: 'count' })}\n`)

    say('running document-intelligence: image → OCR → language → (review sentiment ∥ entities) → summary')
    const result = await run(documentIntelligence, input as never, {
      directory: index,
      caller,
      settler,
      budget,
      onEvent: (e) => {
        if (flags.json) return
        if (e.type === 'step.succeeded' || e.type === 'payment' || e.type === 'settlement')
          say(describeEvent(e))
      },
    })
    mark('run')
    if (result.status !== 'succeeded') {
      const cause = (result as { error?: unknown }).error
      throw new DemoError(`the workflow did not succeed: ${result.status}`, {
        cause,
        metaMessages: causeChain(cause),
      })
    }
    const settlement = settler.settlements.at(-1)
    if (!settlement) throw new DemoError('the run finished without a settlement')

    const credits = settlement.credits.map((c: Credit) => ({
      assetId: c.assetId.toString(),
      id: nameOf(assetIds, c.assetId),
      role: c.role,
      ofModel: nameOf(assetIds, c.ofModel),
      payee: payeeOf(nameOf(assetIds, c.assetId)),
      amount: formatUnits(c.amount, DECIMALS),
      settlementTx: settlement.txHash,
    }))
    const sum = (role?: 'model' | 'ancestor') =>
      settlement.credits.filter((c) => !role || c.role === role).reduce((s, c) => s + c.amount, 0n)
    const report: DemoReport = {
      chain: {
        rpcUrl: devnet.rpcUrl,
        chainId: devnet.chainId,
        registry: devnet.addresses.registry,
        ledger: devnet.addresses.ledger,
        token,
        decimals: DECIMALS,
      },
      listings,
      runs: [
        {
          id: result.runId,
          workflow: documentIntelligence.id,
          receiptRoot: result.receipt.root,
          settlementTx: settlement.txHash,
          settlementGas: settlement.gasUsed.toString(),
          calls: result.receipt.entries.length,
          paid: formatUnits(settlement.total, DECIMALS),
          output: result.output,
        },
      ],
      credits,
      totals: {
        paid: formatUnits(sum(), DECIMALS),
        toModels: formatUnits(sum('model'), DECIMALS),
        toAncestors: formatUnits(sum('ancestor'), DECIMALS),
      },
      timingsMs: timings,
    }
    mark('total')

    if (flags.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
    } else {
      const out = result.output as Record<string, unknown>
      process.stdout.write(
        [
          '',
          `text (OCR): ${String(out.text).split('\n').join(' ')}`,
          `language: ${String(out.language)}   sentiment: ${String(out.sentiment)} (${String(out.rating)}/5)`,
          `entities: ${(out.entities as { value: string; type: string }[]).map((e) => `${e.value} [${e.type}]`).join(', ')}`,
          `summary: ${String(out.summary)}`,
          '',
          `run ${result.runId}: ${report.runs[0]?.calls} paid calls, receipt root ${result.receipt.root}`,
          `settled in one transaction ${settlement.txHash} (${settlement.gasUsed} gas)`,
          '',
          formatTable(
            ['asset', 'id', 'role', 'payee', 'amount (tUSD)', 'transaction'],
            credits.map((c) => [
              c.assetId,
              c.id,
              c.role === 'ancestor' ? `ancestor of ${c.ofModel}` : 'model',
              c.payee,
              c.amount,
              `${c.settlementTx.slice(0, 10)}…`,
            ]),
            [4],
          ),
          '',
          `paid ${report.totals.paid} tUSD: ${report.totals.toModels} to the models, ${report.totals.toAncestors} to their ancestors`,
          `finished in ${(timings.total ?? 0) / 1000} s`,
          '',
        ].join('\n'),
      )
    }

    if (flags.keep) {
      say(`devnet ${devnet.rpcUrl}, provider ${provider.url} — Ctrl-C to stop`)
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve)
        process.once('SIGTERM', resolve)
      })
    }
    return { ok: true, report }
  } finally {
    await closeAll()
  }
}

function describeEvent(e: RunEvent): string {
  switch (e.type) {
    case 'step.succeeded':
      return `step ${e.stepId} done`
    case 'payment':
      return `  paid ${formatUnits(e.entry.amount, DECIMALS)} tUSD to ${e.entry.modelId}@${e.entry.modelVersion} (lane ${e.entry.laneId.slice(0, 10)}…, ${e.entry.latencyMs} ms)`
    case 'settlement':
      return `settled ${e.entries} paid calls in transaction ${e.result.txHash}`
    default:
      return e.type
  }
}

/** The messages of an error's cause chain, one line each. */
function causeChain(err: unknown): string[] {
  const out: string[] = []
  for (let e = err, depth = 0; e instanceof Error && depth < 6; e = e.cause, depth++) {
    out.push(`- ${e.name}: ${e instanceof BaseError ? e.shortMessage : e.message}`)
  }
  return out
}

function nameOf(ids: Map<string, bigint>, assetId: bigint): string {
  for (const [id, a] of ids) if (a === assetId) return id
  return `asset ${assetId}`
}

function projectRoot(): string {
  return path.resolve(
    path.dirname(fileURLToPath(import.meta.url)),
    '..',
    '..',
    ...(import.meta.url.includes('/dist/') ? ['..'] : []),
  )
}

async function importFrom(root: string, module: string): Promise<unknown> {
  const built = path.join(root, 'dist', `${module}.js`)
  const source = path.join(root, `${module}.ts`)
  const file = import.meta.url.endsWith('.js') && import.meta.url.includes('/dist/') ? built : source
  try {
    return await import(pathToFileURL(file).href)
  } catch (err) {
    throw new DemoError(`could not load ${module}`, {
      cause: err,
      metaMessages: ['- Run `npm install` first.'],
    })
  }
}

function readPng(file: string): Buffer {
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch (err) {
    throw new DemoError(`cannot read --image ${file}`, { cause: err })
  }
  if (bytes.subarray(0, 8).toString('hex') !== '89504e470d0a1a0a') {
    throw new DemoError(`--image ${file} is not a PNG file`, {
      metaMessages: ['- Give a PNG of printed text.'],
    })
  }
  return bytes
}

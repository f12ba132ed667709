/**
 * Per-step overhead of tributary's workflow runtime against plain async code, raw XState v5, LangGraph.js and Mastra,
 * on chain5 (5 sequential steps) and fanout4 (a, then p1..p4 in parallel, then join: 6 steps), in one process; and
 * the same workloads with every step paid through the attribution ledger. `npm run bench:engine` compiles it (and
 * tributary) with tsc and runs the JavaScript, as the package ships and as the peers run; `npx tsx bench/engine.ts`
 * runs the sources.
 *
 * Method: every engine calls the same step functions (resolved on the microtask queue, no I/O). In each of REPS
 * repetitions and for each workload, every engine is warmed up (N/10 runs), then measured over N sequential runs
 * split into ROUNDS interleaved rounds (the machine is shared, so engines must see the same load); µs/step =
 * µs/run ÷ steps. Ratios are computed within each repetition, then the median is taken.
 * Outputs are checked against plain code after the clock stops. ledgerUsPerPaidStep = (µs/run with paid model steps −
 * µs/run with local steps) ÷ steps: idempotency keys, budget check, ajv validation of the input before paying, zod
 * parse of the output, ledger record, receipt Merkle root and the settle call — with a PaidCaller that does no
 * crypto itself (the provider's hashing and signing is the provider's cost, not the ledger's).
 */

import { writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Address, Hex } from 'viem'
import { z } from 'zod'
import { createStaticDirectory } from '../src/market/createStaticDirectory.js'
import { fn } from '../src/workflow/fn.js'
import { createAttributionLedger, idempotencyKey } from '../src/workflow/ledger.js'
import { model } from '../src/workflow/model.js'
import { plan } from '../src/workflow/plan.js'
import { receiptRoot } from '../src/workflow/receipt.js'
import { run } from '../src/workflow/run.js'
import type { PaidCaller, ResolvedModel, Settler } from '../src/workflow/types.js'
import { workflow } from '../src/workflow/workflow.js'
import { langgraph, mastra, plain, xstate } from './peers/engines.js'
import {
  CHAIN,
  chainSteps,
  type Engine,
  expectedChain,
  expectedFan,
  FAN,
  fanA,
  fanP,
  input,
  joinFn,
  type State,
} from './peers/workload.js'
import { codeMeasured, resultsFile } from './resultsFile.js'

process.env.MASTRA_TELEMETRY_DISABLED = '1'
setFlagsFromString('--expose_gc')
const gc = runInNewContext('gc') as () => void

const QUICK = process.argv.includes('--quick')
const REPS = QUICK ? 2 : 5
const RUNS: Record<string, number> = QUICK
  ? { plain: 2000, xstate: 300, tributary: 300, tributaryPaid: 300, mastra: 200, langgraph: 40 }
  : { plain: 20000, xstate: 1500, tributary: 1500, tributaryPaid: 1500, mastra: 600, langgraph: 100 }

// ---------------------------------------------------------------- tributary, local steps
const StateSchema = z.object({
  runId: z.string(),
  prompt: z.string(),
  n: z.number(),
  trail: z.array(z.string()),
})
const In = StateSchema

const chainLocal = (() => {
  const f = (i: number) => fn(chainSteps[i] as (s: State) => Promise<State>)
  return workflow({ id: 'chain5', input: In })
    .step('s1', f(0))
    .step('s2', f(1))
    .step('s3', f(2))
    .step('s4', f(3))
    .step('s5', f(4))
    .build()
})()
const fanLocal = (() => {
  const p = (i: number) => fn(fanP[i] as (s: State) => Promise<State>)
  return workflow({ id: 'fanout4', input: In })
    .step('a', fn(fanA))
    .parallel('p', (b) => ({ p1: b.step(p(0)), p2: b.step(p(1)), p3: b.step(p(2)), p4: b.step(p(3)) }))
    .step(
      'join',
      fn((x: { p1: State; p2: State; p3: State; p4: State }) => joinFn([x.p1, x.p2, x.p3, x.p4])),
    )
    .build()
})()

// ---------------------------------------------------------------- tributary, paid steps
const token = '0x00000000000000000000000000000000000000a1' as Address
const stateJson = z.toJSONSchema(StateSchema)
const JoinIn = z.object({ p1: StateSchema, p2: StateSchema, p3: StateSchema, p4: StateSchema })
const models: ResolvedModel[] = [...CHAIN, 'a', ...FAN, 'join'].map((name, i) => ({
  assetId: BigInt(i + 1),
  id: `bench/${name}`,
  version: '1.0.0',
  capabilities: [name],
  inputSchema: name === 'join' ? z.toJSONSchema(JoinIn) : stateJson,
  outputSchema: stateJson,
  pricePerCall: 3n,
  token,
}))
const directory = createStaticDirectory(models)
const handlers = new Map<string, (x: unknown) => Promise<State>>([
  ...CHAIN.map((n, i) => [`bench/${n}`, chainSteps[i] as (x: unknown) => Promise<State>] as const),
  ['bench/a', fanA as (x: unknown) => Promise<State>],
  ...FAN.map((n, i) => [`bench/${n}`, fanP[i] as (x: unknown) => Promise<State>] as const),
  [
    'bench/join',
    ((x: { p1: State; p2: State; p3: State; p4: State }) => joinFn([x.p1, x.p2, x.p3, x.p4])) as (
      x: unknown,
    ) => Promise<State>,
  ],
])
const h32 = `0x${'ab'.repeat(32)}` as Hex
const sig = `0x${'cd'.repeat(65)}` as Hex
const fastCaller: PaidCaller = {
  async call(m, x) {
    const output = await (handlers.get(m.id) as (x: unknown) => Promise<State>)(x)
    return {
      output,
      payment: {
        laneId: h32,
        amount: m.pricePerCall,
        cumulative: m.pricePerCall,
        modelVersion: m.version,
        inputHash: h32,
        outputHash: h32,
        providerSignature: sig,
        latencyMs: 0,
        lane: null,
      },
    }
  },
}
const noopSettler: Settler = { settle: async () => ({ txHash: h32 }) }
const M = (name: string) => model(`bench/${name}@^1`, { input: StateSchema, output: StateSchema })
const chainPaid = workflow({ id: 'chain5-paid', input: In })
  .step('s1', M('s1'))
  .step('s2', M('s2'))
  .step('s3', M('s3'))
  .step('s4', M('s4'))
  .step('s5', M('s5'))
  .build()
const fanPaid = workflow({ id: 'fanout4-paid', input: In })
  .step('a', M('a'))
  .parallel('p', (b) => ({
    p1: b.step(M('p1')),
    p2: b.step(M('p2')),
    p3: b.step(M('p3')),
    p4: b.step(M('p4')),
  }))
  .step('join', model('bench/join@^1', { input: JoinIn, output: StateSchema }))
  .build()

async function tributaryEngines(): Promise<{ local: Engine; paid: Engine }> {
  const chainPlan = await plan(chainPaid, { directory })
  const fanPlan = await plan(fanPaid, { directory })
  const out = <O>(r: Awaited<ReturnType<typeof run<typeof In, O>>>): O => {
    if (r.status !== 'succeeded') throw new Error(`run ${r.status}`)
    return r.output
  }
  const paidOpts = { caller: fastCaller, settler: noopSettler, budget: 1_000n }
  return {
    local: {
      name: 'tributary',
      chain5: async (s) => out(await run(chainLocal, s)),
      fanout4: async (s) => out(await run(fanLocal, s)),
    },
    paid: {
      name: 'tributaryPaid',
      chain5: async (s) => out(await run(chainPaid, s, { ...paidOpts, plan: chainPlan })),
      fanout4: async (s) => out(await run(fanPaid, s, { ...paidOpts, plan: fanPlan })),
    },
  }
}

// ---------------------------------------------------------------- harness
const STEPS = { chain5: 5, fanout4: 6 } as const
type Workload = keyof typeof STEPS

const ROUNDS = QUICK ? 4 : 20

/**
 * Measures every engine on one workload, interleaved: ROUNDS rounds, each running every engine for 1/ROUNDS of its
 * runs, so that all engines share the same stretches of machine load (the machine is shared). Returns µs/run per
 * engine. Outputs are checked against the reference after the clock stops.
 */
async function measureAll(engines: readonly Engine[], workload: Workload): Promise<Map<string, number>> {
  const elapsed = new Map<string, number>()
  const done = new Map<string, number>()
  for (const e of engines)
    for (let i = 0; i < Math.max(1, (RUNS[e.name] as number) / 10); i++) await e[workload](input(i))
  gc()
  for (let round = 0; round < ROUNDS; round++)
    for (const e of engines) {
      const n = Math.max(1, Math.round((RUNS[e.name] as number) / ROUNDS))
      const start = done.get(e.name) ?? 0
      let check = 0
      const t0 = performance.now()
      for (let i = start; i < start + n; i++) check += (await e[workload](input(i))).n
      elapsed.set(e.name, (elapsed.get(e.name) ?? 0) + (performance.now() - t0))
      done.set(e.name, start + n)
      let expected = 0
      for (let i = start; i < start + n; i++)
        expected += (await (workload === 'chain5' ? expectedChain : expectedFan)(input(i))).n
      if (check !== expected) throw new Error(`${e.name} ${workload}: outputs differ from the reference`)
    }
  const out = new Map<string, number>()
  for (const e of engines)
    out.set(e.name, ((elapsed.get(e.name) as number) * 1000) / (done.get(e.name) as number))
  return out
}

/**
 * The ledger's own work per paid call, without the engine: derive the idempotency key, record the entry, and (once per
 * run of 5) compute the receipt root over the entries.
 */
function ledgerIsolated(runs: number): number {
  const runId = `0x${'34'.repeat(32)}` as Hex
  const t0 = performance.now()
  for (let r = 0; r < runs; r++) {
    const ledger = createAttributionLedger()
    for (let i = 0; i < 5; i++) {
      const key = idempotencyKey(runId, `s${i}`, r)
      ledger.record(
        {
          idempotencyKey: key,
          stepId: `s${i}`,
          item: r,
          assetId: BigInt(i + 1),
          modelId: 'bench/x',
          modelVersion: '1.0.0',
          token,
          laneId: h32,
          amount: 3n,
          cumulative: 3n,
          inputHash: h32,
          outputHash: h32,
          providerSignature: sig,
          latencyMs: 1,
          lane: null,
        },
        null,
      )
    }
    receiptRoot(ledger.entries)
  }
  return ((performance.now() - t0) * 1000) / (runs * 5)
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}
const r2 = (x: number) => Math.round(x * 100) / 100

async function main() {
  const t = await tributaryEngines()
  const engines: Engine[] = [plain, xstate, t.local, t.paid, mastra, langgraph]
  for (const e of engines)
    for (const w of ['chain5', 'fanout4'] as const) {
      const got = await e[w](input(3))
      const want = await (w === 'chain5' ? expectedChain : expectedFan)(input(3))
      if (JSON.stringify(got) !== JSON.stringify(want))
        throw new Error(`${e.name} ${w}: wrong output ${JSON.stringify(got)}`)
    }
  const perRep: Record<Workload, Record<string, number[]>> = { chain5: {}, fanout4: {} }
  const isolated: number[] = []
  ledgerIsolated(200)
  const started = Date.now()
  const load = loadavg()[0]
  for (let rep = 0; rep < REPS; rep++) {
    const order = engines.map((_, i) => engines[(i + rep) % engines.length] as Engine)
    for (const w of ['chain5', 'fanout4'] as const) {
      const us = await measureAll(order, w)
      for (const [name, v] of us) {
        const list = perRep[w][name] ?? []
        list.push(v)
        perRep[w][name] = list
      }
    }
    isolated.push(ledgerIsolated(QUICK ? 200 : 1000))
    process.stdout.write(`rep ${rep + 1}/${REPS} done (${((Date.now() - started) / 1000).toFixed(0)} s)\n`)
  }
  const summary = (w: Workload) => {
    const steps = STEPS[w]
    const usRun = (name: string) => perRep[w][name] as number[]
    const perStep = (name: string) => median(usRun(name).map((x) => x / steps))
    const range = (name: string) => {
      const xs = usRun(name).map((x) => x / steps)
      return [r2(Math.min(...xs)), r2(Math.max(...xs))]
    }
    const ratio = (a: string, b: string) => median(usRun(a).map((x, i) => x / (usRun(b)[i] as number)))
    const ledger = median(
      usRun('tributaryPaid').map((x, i) => (x - (usRun('tributary')[i] as number)) / steps),
    )
    const overhead = (name: string) =>
      median(usRun(name).map((x, i) => (x - (usRun('plain')[i] as number)) / steps))
    return {
      steps,
      plainUsPerStep: r2(perStep('plain')),
      xstateUsPerStep: r2(perStep('xstate')),
      tributaryUsPerStep: r2(perStep('tributary')),
      mastraUsPerStep: r2(perStep('mastra')),
      langgraphUsPerStep: r2(perStep('langgraph')),
      tributaryPaidUsPerStep: r2(perStep('tributaryPaid')),
      ledgerUsPerPaidStep: r2(ledger),
      tributaryVsXstate: r2(ratio('tributary', 'xstate')),
      mastraVsXstate: r2(ratio('mastra', 'xstate')),
      langgraphVsXstate: r2(ratio('langgraph', 'xstate')),
      overheadUsPerStepVsPlain: {
        xstate: r2(overhead('xstate')),
        tributary: r2(overhead('tributary')),
        mastra: r2(overhead('mastra')),
        langgraph: r2(overhead('langgraph')),
      },
      usPerStepMinMax: Object.fromEntries(engines.map((e) => [e.name, range(e.name)])),
    }
  }
  const chain5 = summary('chain5')
  const fanout4 = summary('fanout4')
  const ledgerUsPerPaidStep = Math.max(chain5.ledgerUsPerPaidStep, fanout4.ledgerUsPerPaidStep)
  const cpu = cpus()
  const result = {
    generatedAt: new Date().toISOString(),
    machine: {
      cpu: cpu[0]?.model ?? 'unknown',
      cores: cpu.length,
      memGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      loadAvg1mAtStart: r2(load ?? 0),
      loadAvg1mAtEnd: r2(loadavg()[0] ?? 0),
    },
    code: codeMeasured(import.meta.url),
    versions: { xstate: '5.33.3', '@langchain/langgraph': '1.7.3', '@mastra/core': '1.71.0', zod: '4.6.7' },
    method:
      'µs/step = µs/run ÷ steps (chain5: 5, fanout4: 6); median over repetitions; ratios computed within each repetition. ' +
      'Each repetition measures every engine in this one process, interleaved in rounds (every engine runs 1/20 of its runs per round, rotated order) so that all share the same machine load; runs are sequential (1 in flight) after a warm-up of 1/10. ' +
      'ledgerUsPerPaidStep = (paid − local tributary µs/run) ÷ steps, with a PaidCaller that does no crypto; top-level value is the larger of the two workloads. ' +
      'ledgerIsolatedUsPerEntry times the ledger alone (idempotency key, record, receipt root over 5 entries), no engine.',
    repetitions: REPS,
    runsPerMeasurement: RUNS,
    chain5,
    fanout4,
    ledgerUsPerPaidStep: r2(ledgerUsPerPaidStep),
    ledgerIsolatedUsPerEntry: r2(median(isolated)),
    targets: {
      tributaryVsXstateMax: 1.25,
      ledgerUsPerPaidStepMax: 20,
      met: chain5.tributaryVsXstate <= 1.25 && fanout4.tributaryVsXstate <= 1.25 && ledgerUsPerPaidStep <= 20,
    },
  }
  if (!QUICK)
    writeFileSync(resultsFile('engine.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`)
  const row = (name: string, key: keyof typeof chain5) =>
    `| ${name.padEnd(22)} | ${String(chain5[key]).padStart(10)} | ${String(fanout4[key]).padStart(10)} |`
  console.log(
    [
      '',
      `| µs per step (median of ${REPS}) | chain5     | fanout4    |`,
      '|------------------------|------------|------------|',
      row('plain async', 'plainUsPerStep'),
      row('XState v5 (raw)', 'xstateUsPerStep'),
      row('tributary', 'tributaryUsPerStep'),
      row('tributary, paid', 'tributaryPaidUsPerStep'),
      row('Mastra', 'mastraUsPerStep'),
      row('LangGraph.js', 'langgraphUsPerStep'),
      row('tributary ÷ XState', 'tributaryVsXstate'),
      row('ledger µs / paid step', 'ledgerUsPerPaidStep'),
      `ledger work alone (key + record + receipt root): ${result.ledgerIsolatedUsPerEntry} µs per entry`,
      '',
      `machine: ${result.machine.cpu}, ${result.machine.cores} cores, ${result.machine.node}; targets met: ${result.targets.met}`,
      QUICK ? '(quick run: results not written)' : 'written: bench/results/engine.json',
    ].join('\n'),
  )
}

await main()

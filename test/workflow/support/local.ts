import {
  type Address,
  encodeAbiParameters,
  encodePacked,
  type Hex,
  keccak256,
  type LocalAccount,
  recoverMessageAddress,
  stringToBytes,
} from 'viem'
import { receiptRoot } from '../../../src/workflow/receipt.js'
import { snapshotJson } from '../../../src/workflow/snapshotJson.js'
import type {
  LedgerEntry,
  PaidCaller,
  PaidCallPayment,
  ResolvedModel,
  SettleParameters,
  SettleResult,
  Settler,
} from '../../../src/workflow/types.js'

export type Handler = (input: unknown, signal: AbortSignal) => unknown

const digestOf = (laneId: Hex, cumulative: bigint, key: Hex, inputHash: Hex, outputHash: Hex) =>
  keccak256(
    encodeAbiParameters(
      [
        { type: 'bytes32' },
        { type: 'uint256' },
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'bytes32' },
      ],
      [laneId, cumulative, key, inputHash, outputHash],
    ),
  )

/**
 * A real in-process PaidCaller: runs local functions as models, hashes input and output with keccak256 over
 * canonical JSON, keeps a cumulative amount per lane (payer × model × token), signs every receipt with the provider's
 * viem local account, and is idempotent by key (a repeated key returns the first response and charges nothing).
 */
export function createLocalCaller(parameters: {
  readonly provider: LocalAccount
  readonly payer: Address
  readonly handlers: Readonly<Record<string, Handler>>
}) {
  const lanes = new Map<Hex, bigint>()
  const byKey = new Map<Hex, { output: unknown; payment: PaidCallPayment }>()
  const stats = { calls: 0, charges: 0, replays: 0, charged: 0n }
  const caller: PaidCaller = {
    async call(model: ResolvedModel, input: unknown, options) {
      stats.calls++
      const known = byKey.get(options.idempotencyKey)
      if (known) {
        stats.replays++
        return known
      }
      const handler = parameters.handlers[model.id]
      if (!handler) throw new Error(`no local handler for ${model.id}`)
      const t0 = performance.now()
      const output = await handler(input, options.signal)
      if (options.signal.aborted) throw options.signal.reason
      const laneId = keccak256(
        encodePacked(['address', 'uint256', 'address'], [parameters.payer, model.assetId, model.token]),
      )
      const cumulative = (lanes.get(laneId) ?? 0n) + model.pricePerCall
      lanes.set(laneId, cumulative)
      const inputHash = keccak256(stringToBytes(snapshotJson(input)))
      const outputHash = keccak256(stringToBytes(snapshotJson(output)))
      const providerSignature = await parameters.provider.signMessage({
        message: { raw: digestOf(laneId, cumulative, options.idempotencyKey, inputHash, outputHash) },
      })
      const payment: PaidCallPayment = {
        laneId,
        amount: model.pricePerCall,
        cumulative,
        modelVersion: model.version,
        inputHash,
        outputHash,
        providerSignature,
        latencyMs: performance.now() - t0,
        lane: { laneId, payer: parameters.payer, assetId: model.assetId, token: model.token },
      }
      const res = { output, payment }
      byKey.set(options.idempotencyKey, res)
      stats.charges++
      stats.charged += model.pricePerCall
      return res
    },
  }
  return { caller, stats, lanes }
}

/**
 * A real in-process Settler: recomputes the receipt root from the entries, recovers every provider signature and
 * checks it against the provider, refuses a root settled before, and credits each lane's cumulative amount.
 */
export function createLocalSettler(parameters: { readonly provider: Address }) {
  const settledRoots = new Set<Hex>()
  const settlements: (SettleParameters & { credited: Map<Hex, bigint> })[] = []
  const settler: Settler = {
    async settle(p): Promise<SettleResult> {
      if (receiptRoot(p.entries) !== p.receiptRoot) throw new Error('receipt root does not match the entries')
      if (settledRoots.has(p.receiptRoot)) throw new Error(`RootAlreadySettled(${p.receiptRoot})`)
      const credited = new Map<Hex, bigint>()
      for (const e of p.entries as LedgerEntry[]) {
        const signer = await recoverMessageAddress({
          message: { raw: digestOf(e.laneId, e.cumulative, e.idempotencyKey, e.inputHash, e.outputHash) },
          signature: e.providerSignature,
        })
        if (signer.toLowerCase() !== parameters.provider.toLowerCase())
          throw new Error(`entry ${e.index} is not signed by the provider`)
        credited.set(e.laneId, (credited.get(e.laneId) ?? 0n) + e.amount)
      }
      settledRoots.add(p.receiptRoot)
      settlements.push({ ...p, credited })
      return { txHash: keccak256(encodePacked(['bytes32', 'bytes32'], [p.runId, p.receiptRoot])) }
    },
  }
  return { settler, settlements }
}

/** Lets pending promise callbacks run (several turns of the microtask queue and one macrotask). */
export async function flush(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve()
  await new Promise((r) => setImmediate(r))
}

import { type Address, isAddressEqual } from 'viem'
import { readContract, type TributaryClient } from '../chain/client.js'
import { modelRegistryAbi } from '../chain/generated/ModelRegistry.js'
import type { VoucherSigner } from '../pay/createVoucherSigner.js'
import type { Lane } from '../pay/lane.js'
import { SpendPolicyError } from './callErrors.js'
import { createMemoryLaneStore, type LaneStore, type StoredLane } from './laneStore.js'

/**
 * What an agent or workflow may spend. Every rule is checked before a voucher is signed or a transaction
 * sent; amounts are token units. A model is named by id (`acme/ocr`), by publisher glob (`acme/*`) or by
 * asset id (bigint); publishers are the models' on-chain owners.
 */
export type SpendPolicy = {
  /** Most one call may cost. */
  perCall?: bigint | undefined
  /** Most the calls of one run (same `runId`) may cost together. */
  perRun?: bigint | undefined
  /** Most the calls of one UTC day may cost together. */
  perDay?: bigint | undefined
  /** When set, only these models may be called. */
  allowModels?: readonly (string | bigint)[] | undefined
  denyModels?: readonly (string | bigint)[] | undefined
  /** When set, only models owned by these addresses may be called. */
  allowPublishers?: readonly Address[] | undefined
  denyPublishers?: readonly Address[] | undefined
  /** Most escrow one license lane may lock (its cap). */
  maxLaneCap?: bigint | undefined
}

export type CreateWalletParameters = {
  /** The payer's client (its account signs vouchers; with its private key, on the native fast path). */
  client: TributaryClient
  policy?: SpendPolicy | undefined
  /** Lanes opened for a model: cap = price × `calls` (bounded by `policy.maxLaneCap`), lifetime `ttlSeconds`. */
  lanes?: { calls?: number | undefined; ttlSeconds?: number | undefined } | undefined
  /** Where lanes are kept between processes (default: memory). */
  laneStore?: LaneStore | undefined
  /** The wall clock, for the per-day cap (default `Date.now`). */
  now?: (() => number) | undefined
}

/** A lane as the client uses it: the stored record and its key. */
export type ClientLane = StoredLane & { key: string }

/** @internal What callModel needs of a wallet. */
export type WalletState = {
  lanes: Map<string, ClientLane>
  opening: Map<string, Promise<ClientLane | undefined>>
  store: LaneStore
  owners: Map<bigint, Promise<Address>>
  spend: {
    day: string
    today: bigint
    reservedToday: bigint
    runs: Map<string, { spent: bigint; reserved: bigint }>
  }
  now: () => number
  /** Signs the vouchers of the calls this wallet starts together under one signature (made on first use). */
  voucherSigner?: VoucherSigner | undefined
}

/** A payer with a spend policy. Made by {@link createWallet}; used by `callModel` and `createMarketCaller`. */
export type Wallet = {
  readonly client: TributaryClient
  readonly address: Address
  readonly policy: SpendPolicy
  readonly laneDefaults: { calls: number; ttlSeconds: number }
  /** What was spent today (UTC) and, with a run id, in that run. Token units. */
  spent(runId?: string): { today: bigint; run: bigint }
  /** The lanes the wallet holds in memory. */
  lanes(): readonly { lane: Lane; price: bigint; cap: bigint; expiresAt: bigint; signed: bigint }[]
  /** @internal */
  readonly state: WalletState
}

/**
 * A wallet: the payer's client plus a spend policy (per-call, per-run and per-day caps, allowed and
 * denied models and publishers, a cap on escrow per lane). It also keeps the payer's license lanes, one
 * per model, reused across calls and, with a lane store, across processes.
 *
 * @example
 * ```ts
 * const wallet = createWallet({
 *   client: devnet.client(2),
 *   policy: { perCall: 5_000n, perDay: 1_000_000n, denyPublishers: [spammer] },
 *   lanes: { calls: 200, ttlSeconds: 86_400 },
 * })
 * const { output } = await callModel(model, { text: 'hello' }, { wallet })
 * ```
 */
export function createWallet(p: CreateWalletParameters): Wallet {
  const state: WalletState = {
    lanes: new Map(),
    opening: new Map(),
    store: p.laneStore ?? createMemoryLaneStore(),
    owners: new Map(),
    spend: { day: '', today: 0n, reservedToday: 0n, runs: new Map() },
    now: p.now ?? Date.now,
  }
  const policy = { ...(p.policy ?? {}) }
  return {
    client: p.client,
    address: p.client.account.address,
    policy,
    laneDefaults: { calls: p.lanes?.calls ?? 100, ttlSeconds: p.lanes?.ttlSeconds ?? 86_400 },
    spent(runId) {
      rollDay(state)
      return { today: state.spend.today, run: runId ? (state.spend.runs.get(runId)?.spent ?? 0n) : 0n }
    },
    lanes: () =>
      [...state.lanes.values()].map((l) => ({
        lane: l.lane,
        price: l.price,
        cap: l.cap,
        expiresAt: l.expiresAt,
        signed: l.signed,
      })),
    state,
  }
}

const DAY_MS = 86_400_000
// the UTC day of the last rollDay, as [start, end) in ms: formatting a date on every call costs more
// than the rest of the spend check
const dayBounds = new WeakMap<WalletState, { start: number; end: number }>()

function rollDay(state: WalletState) {
  const now = state.now()
  const b = dayBounds.get(state)
  if (b && now >= b.start && now < b.end && state.spend.day !== '') return
  const start = Math.floor(now / DAY_MS) * DAY_MS
  dayBounds.set(state, { start, end: start + DAY_MS })
  const day = new Date(now).toISOString().slice(0, 10)
  if (state.spend.day !== day) {
    state.spend.day = day
    state.spend.today = 0n
    state.spend.reservedToday = 0n
  }
}

const matches = (rule: string | bigint, id: string, assetId: bigint | undefined) =>
  typeof rule === 'bigint'
    ? rule === assetId
    : rule.endsWith('/*')
      ? id.startsWith(rule.slice(0, -1))
      : rule === id

/** The on-chain owner of an asset (cached). */
export function ownerOf(wallet: Wallet, assetId: bigint): Promise<Address> {
  let o = wallet.state.owners.get(assetId)
  if (!o) {
    o = readContract<Address>(wallet.client, {
      address: wallet.client.addresses.registry,
      abi: modelRegistryAbi,
      functionName: 'ownerOf',
      args: [assetId],
    })
    o.catch(() => wallet.state.owners.delete(assetId))
    wallet.state.owners.set(assetId, o)
  }
  return o
}

/**
 * @internal Checks the model-level rules (allow/deny lists, publishers, price per call) of every policy
 * given. Throws {@link SpendPolicyError}.
 */
export async function checkModelPolicy(
  wallet: Wallet,
  policies: readonly SpendPolicy[],
  model: { id: string; assetId: bigint | undefined; price: bigint },
): Promise<void> {
  for (const pol of policies) {
    if (pol.denyModels?.some((r) => matches(r, model.id, model.assetId)))
      throw new SpendPolicyError(
        'modelDenied',
        model.id,
        `model "${model.id}" is on the deny list`,
        'remove it from denyModels to call it',
      )
    if (pol.allowModels?.length && !pol.allowModels.some((r) => matches(r, model.id, model.assetId)))
      throw new SpendPolicyError(
        'modelNotAllowed',
        model.id,
        `model "${model.id}" is not on the allow list`,
        'add it (or its publisher/*) to allowModels',
      )
    if (pol.perCall !== undefined && model.price > pol.perCall)
      throw new SpendPolicyError(
        'perCall',
        model.id,
        `a call to "${model.id}" costs ${model.price}, above the per-call cap of ${pol.perCall}`,
        'raise perCall or choose a cheaper model',
      )
    if (pol.allowPublishers?.length || pol.denyPublishers?.length) {
      if (model.assetId === undefined)
        throw new SpendPolicyError(
          'publisherNotAllowed',
          model.id,
          `the publisher of "${model.id}" is unknown (no asset id)`,
          'call models listed on-chain when a publisher policy is set',
        )
      const owner = await ownerOf(wallet, model.assetId)
      if (pol.denyPublishers?.some((a) => isAddressEqual(a, owner)))
        throw new SpendPolicyError(
          'publisherDenied',
          model.id,
          `"${model.id}" is published by ${owner}, who is on the deny list`,
          'remove the publisher from denyPublishers to call it',
        )
      if (pol.allowPublishers?.length && !pol.allowPublishers.some((a) => isAddressEqual(a, owner)))
        throw new SpendPolicyError(
          'publisherNotAllowed',
          model.id,
          `"${model.id}" is published by ${owner}, who is not on the allow list`,
          'add the publisher to allowPublishers',
        )
    }
  }
}

/**
 * @internal Reserves `price` against the per-run and per-day caps of every policy (synchronously, so
 * concurrent calls cannot overshoot). Returns commit (the call was charged `amount`) and release.
 */
export function reserveSpend(
  wallet: Wallet,
  policies: readonly SpendPolicy[],
  modelId: string,
  price: bigint,
  runId: string | undefined,
): { commit(amount: bigint): void; release(): void } {
  const { state } = wallet
  rollDay(state)
  const s = state.spend
  const run = runId ? (s.runs.get(runId) ?? { spent: 0n, reserved: 0n }) : undefined
  for (const pol of policies) {
    if (pol.perDay !== undefined && s.today + s.reservedToday + price > pol.perDay)
      throw new SpendPolicyError(
        'perDay',
        modelId,
        `a call of ${price} would bring today's spending to ${s.today + s.reservedToday + price}, above the per-day cap of ${pol.perDay}`,
        'wait for tomorrow (UTC) or raise perDay',
      )
    if (run && pol.perRun !== undefined && run.spent + run.reserved + price > pol.perRun)
      throw new SpendPolicyError(
        'perRun',
        modelId,
        `a call of ${price} would bring run ${runId} to ${run.spent + run.reserved + price}, above the per-run cap of ${pol.perRun}`,
        'raise perRun for this run',
      )
  }
  const day = s.day
  s.reservedToday += price
  if (run && runId) {
    run.reserved += price
    s.runs.set(runId, run)
  }
  let done = false
  const undo = () => {
    if (done) return false
    done = true
    if (s.day === day) s.reservedToday -= price
    if (run) run.reserved -= price
    return true
  }
  return {
    commit(amount) {
      if (!undo()) return
      rollDay(state)
      s.today += amount
      if (run) run.spent += amount
    },
    release() {
      undo()
    },
  }
}

/** @internal The lane cap a wallet opens for a model, within `maxLaneCap`. */
export function laneCapFor(
  wallet: Wallet,
  policies: readonly SpendPolicy[],
  modelId: string,
  price: bigint,
): bigint {
  let cap = price * BigInt(Math.max(1, wallet.laneDefaults.calls))
  for (const pol of policies) {
    if (pol.maxLaneCap === undefined) continue
    if (pol.maxLaneCap < price)
      throw new SpendPolicyError(
        'maxLaneCap',
        modelId,
        `a lane for "${modelId}" needs at least ${price} of escrow, above maxLaneCap ${pol.maxLaneCap}`,
        'raise maxLaneCap',
      )
    if (cap > pol.maxLaneCap) cap = pol.maxLaneCap - (pol.maxLaneCap % price)
  }
  if (cap === 0n) cap = 1n
  return cap
}

/** @internal The key of a wallet's lane on a model. */
export const laneKeyOf = (wallet: Wallet, assetId: bigint) => {
  // the prefix is fixed per wallet: built once, not on every call
  let prefix = laneKeyPrefixes.get(wallet)
  if (prefix === undefined) {
    prefix = `${wallet.address.toLowerCase()}:${wallet.client.chain.id}:${wallet.client.addresses.ledger.toLowerCase()}:`
    laneKeyPrefixes.set(wallet, prefix)
  }
  return `${prefix}${assetId}`
}
const laneKeyPrefixes = new WeakMap<Wallet, string>()

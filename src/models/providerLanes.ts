import { type Address, type Hex, isAddressEqual } from 'viem'
import { getEvents, readContract, type TributaryClient } from '../chain/client.js'
import { ledgerAbi } from '../chain/generated/Ledger.js'
import { modelRegistryAbi } from '../chain/generated/ModelRegistry.js'
import {
  type ChainHead,
  type LedgerEvent,
  type WatchLedgerEventsReturnType,
  watchLedgerEvents,
} from '../chain/watchLedgerEvents.js'
import type { BaseError } from '../errors/base.js'
import type { SignedVoucher } from '../pay/createVoucherSigner.js'
import { getLane } from '../pay/getLane.js'
import { computeLaneId, decodeAttribution, decodeLineage, type Lane } from '../pay/lane.js'
import { redeemVouchers } from '../pay/redeemVouchers.js'
import type { WireLaneKey, WireLaneStatus } from './laneScheme.js'

/**
 * A lane as the provider accounts for it. `charged` is the sum of the prices of successful calls (never
 * below `claimed`), `signing` how many of them still wait for their receipt's signature (a call whose receipt
 * cannot be signed is taken back); `inflight` the prices of calls running; `highest` the highest voucher seen;
 * `used` the voucher amounts spent on a running or successful call (a voucher pays for one call), exact at and
 * above {@link spendFloor}; `held` the payer's signatures (with their batch proofs) by cumulative amount, of which
 * only the highest at or below the floor, `best`, is redeemed.
 */
export type ProviderLane = {
  lane: Lane
  price: bigint
  cap: bigint
  expiresAt: bigint
  claimed: bigint
  closed: boolean
  charged: bigint
  inflight: bigint
  highest: bigint
  /** Charged calls whose receipt is still being signed. */
  signing: number
  used: Set<bigint>
  /** `used`'s size at which it is swept next. */
  sweepAt: number
  held: Map<bigint, SignedVoucher>
  /** The highest held voucher at or below {@link spendFloor}: what a redemption would claim. */
  best: bigint
  /** When the lane was last read from the chain (ms). */
  refreshedAt: number
  /** What this lane adds to the book's exposure (`best - claimed` when positive), kept with the total. */
  exposure: bigint
}

/**
 * What is charged on a lane for calls whose receipts are signed: the lowest `charged` can fall back to, since a call
 * still waiting for its receipt's signature is taken back if the signature fails. Redemptions claim up to it, and
 * a voucher below it can never pay for a call (one must cover `charged` plus a price), so spent amounts below it
 * need no remembering.
 */
export const spendFloor = (l: ProviderLane): bigint => l.charged - l.price * BigInt(l.signing)

/** Seconds before a lane's last redeemable moment (expiry plus the reclaim delay) when it is no longer tried. */
const DEADLINE_MARGIN = 15n

export type LaneBookOptions = {
  client: TributaryClient
  pollIntervalMs: number
  redeem: { exposureThreshold: bigint; beforeExpirySeconds: number }
  onError: (error: BaseError) => void
}

export type LaneBook = ReturnType<typeof createLaneBook>

type LicenseInfo = { token: Address; price: bigint; termsVersion: number; lineageHash: Hex }

/**
 * The provider's view of the lanes that pay it, read from the chain once per lane and kept fresh from
 * ledger events; and its redemption policy. Internal to the provider.
 */
export function createLaneBook(o: LaneBookOptions) {
  const { client } = o
  const lanes = new Map<string, ProviderLane>()
  const loading = new Map<string, Promise<ProviderLane | undefined>>()
  const licenses = new Map<bigint, LicenseInfo>()
  const prices = new Map<string, bigint>()
  let watch: WatchLedgerEventsReturnType | undefined
  let head: ChainHead | undefined
  let lastPollOk = 0
  let redeeming: Promise<void> | undefined
  // the ledger's reclaim delay: vouchers stay redeemable until a lane's expiry plus it (read at start)
  let reclaimDelay = 0n
  let timer: ReturnType<typeof setInterval> | undefined
  const stats = {
    redemptions: 0,
    redeemed: 0n,
    redeemErrors: 0,
    lastRedeemError: undefined as string | undefined,
  }

  const apply = (events: LedgerEvent[]) => {
    for (const e of events) {
      switch (e.type) {
        case 'LaneToppedUp': {
          const l = lanes.get(e.laneId.toLowerCase())
          if (l) {
            l.cap = e.cap
            l.expiresAt = e.expiresAt
          }
          break
        }
        case 'LaneReclaimed': {
          const l = lanes.get(e.laneId.toLowerCase())
          if (l) l.closed = true
          break
        }
        case 'Settled': {
          // a settlement or redemption names models, not lanes: refresh this payer's lanes of those models
          let models: bigint[]
          try {
            models = decodeAttribution(e.attribution).map((x) => x.modelId)
          } catch {
            break
          }
          for (const l of lanes.values()) {
            if (isAddressEqual(l.lane.payer, e.payer) && models.includes(l.lane.modelId)) void refresh(l)
          }
          break
        }
        case 'TermsUpdated': {
          prices.set(`${e.assetId}:${e.version}`, e.pricePerCall)
          const known = licenses.get(e.assetId)
          if (known && e.version > known.termsVersion)
            licenses.set(e.assetId, {
              ...known,
              token: e.token,
              price: e.pricePerCall,
              termsVersion: e.version,
            })
          break
        }
        case 'LaneOpened':
          // lanes are loaded when a voucher first names them
          break
      }
    }
  }

  const refresh = async (l: ProviderLane) => {
    l.refreshedAt = Date.now()
    try {
      const s = await getLane(client, { laneId: l.lane.laneId })
      setClaimed(l, s.claimed)
      l.cap = s.cap
      l.expiresAt = s.expiresAt
      l.closed = s.closed
    } catch (err) {
      o.onError(err as BaseError)
    }
  }

  // the unredeemed total over every lane, kept as lanes change rather than summed on each charge
  let exposureTotal = 0n
  const reckon = (l: ProviderLane) => {
    const e = l.best > l.claimed ? l.best - l.claimed : 0n
    if (e !== l.exposure) {
      exposureTotal += e - l.exposure
      l.exposure = e
    }
  }

  const setClaimed = (l: ProviderLane, claimed: bigint) => {
    if (claimed <= l.claimed) return
    l.claimed = claimed
    // paid on-chain (by the payer's settlement or our redemption): nothing below is owed any more
    if (l.charged < claimed) l.charged = claimed
    for (const v of l.used) if (v <= claimed) l.used.delete(v)
    for (const v of l.held.keys()) if (v < claimed) l.held.delete(v)
    updateBest(l)
  }

  const updateBest = (l: ProviderLane) => {
    // one pass over the held vouchers: the highest at or below the floor becomes the best, and every other one
    // at or below it can never be redeemed (the floor never falls, and a later redemption claims more)
    const { held } = l
    const floor = spendFloor(l)
    let best = l.best
    for (const v of held.keys()) {
      if (v > floor || v === best) continue
      if (v > best) {
        held.delete(best)
        best = v
      } else held.delete(v)
    }
    l.best = best
    // spent amounts below the floor are never looked up (see spendFloor): they are dropped once the set has
    // doubled since the last sweep, at a constant cost per call
    if (l.used.size >= l.sweepAt) {
      for (const v of l.used) if (v < floor) l.used.delete(v)
      l.sweepAt = Math.max(64, 2 * l.used.size)
    }
    reckon(l)
  }

  /**
   * A voucher that paid for no call is no longer spent, but stays held: wallets sign ever larger amounts, so the
   * voucher of a failed call may be what later successful calls are redeemed with.
   */
  const forget = (l: ProviderLane, cumulative: bigint) => {
    l.used.delete(cumulative)
  }

  /** The price of one call under a terms version of an asset. */
  const priceOf = async (assetId: bigint, termsVersion: number): Promise<bigint | undefined> => {
    const k = `${assetId}:${termsVersion}`
    const cached = prices.get(k)
    if (cached !== undefined) return cached
    const info = await licenseInfo(assetId)
    if (info.termsVersion === termsVersion) return info.price
    const events = await getEvents<{ args: { version: number; terms: { pricePerCall: bigint } } }>(client, {
      address: client.addresses.registry,
      abi: modelRegistryAbi,
      eventName: 'TermsUpdated',
      args: { assetId },
    })
    for (const e of events) prices.set(`${assetId}:${e.args.version}`, e.args.terms.pricePerCall)
    return prices.get(k)
  }

  const licenseInfo = async (assetId: bigint): Promise<LicenseInfo> => {
    const known = licenses.get(assetId)
    if (known) return known
    const [token, price, termsVersion, lineageHash] = await readContract<
      readonly [Address, bigint, number, Hex]
    >(client, {
      address: client.addresses.registry,
      abi: modelRegistryAbi,
      functionName: 'licenseInfo',
      args: [assetId],
    })
    const info = { token, price, termsVersion, lineageHash }
    licenses.set(assetId, info)
    prices.set(`${assetId}:${termsVersion}`, price)
    return info
  }

  /**
   * The lane named by a payment, loaded once (its key is checked against its id; its state and the
   * model's lineage read from the chain), then kept fresh by events. Undefined when no such lane exists.
   */
  const load = (
    laneId: Hex,
    key: WireLaneKey,
  ): Promise<ProviderLane | undefined> | ProviderLane | undefined => {
    const id = laneId.toLowerCase()
    const known = lanes.get(id)
    if (known) return known
    let p = loading.get(id)
    if (!p) {
      p = (async () => {
        const lane: Omit<Lane, 'ancestors'> = {
          laneId,
          payer: key.payer,
          token: key.token,
          modelId: BigInt(key.modelId),
          termsVersion: key.termsVersion,
          seq: BigInt(key.seq),
          lineageHash: key.lineageHash,
        }
        if (computeLaneId(lane).toLowerCase() !== id) return undefined
        const state = await getLane(client, { laneId })
        if (!state.exists) return undefined
        const lineage = await readContract<Hex>(client, {
          address: client.addresses.registry,
          abi: modelRegistryAbi,
          functionName: 'lineageOf',
          args: [lane.modelId],
        })
        const price = await priceOf(lane.modelId, lane.termsVersion)
        if (price === undefined) return undefined
        const entry: ProviderLane = {
          lane: { ...lane, ancestors: decodeLineage(lineage) },
          price,
          cap: state.cap,
          expiresAt: state.expiresAt,
          claimed: state.claimed,
          closed: state.closed,
          charged: state.claimed,
          inflight: 0n,
          highest: state.claimed,
          signing: 0,
          used: new Set(),
          sweepAt: 64,
          held: new Map(),
          best: state.claimed,
          refreshedAt: Date.now(),
          exposure: 0n,
        }
        lanes.set(id, entry)
        return entry
      })().finally(() => loading.delete(id))
      loading.set(id, p)
    }
    return p
  }

  /** The chain's clock now (seconds): the head's timestamp plus the time since it was read. */
  const chainNow = (): bigint => {
    if (!head) return BigInt(Math.floor(Date.now() / 1000))
    return head.timestamp + BigInt(Math.floor((Date.now() - head.observedAtMs) / 1000))
  }

  const status = (l: ProviderLane): WireLaneStatus => {
    // biome-ignore lint/complexity/useMathMinMax: bigints (Math.max takes numbers)
    const floor = l.charged + l.inflight > l.highest ? l.charged + l.inflight : l.highest
    return {
      laneId: l.lane.laneId,
      charged: l.charged.toString(),
      inflight: l.inflight.toString(),
      highestVoucher: l.highest.toString(),
      required: (floor + l.price).toString(),
      cap: l.cap.toString(),
      claimed: l.claimed.toString(),
      expiresAt: Number(l.expiresAt),
      pricePerCall: l.price.toString(),
    }
  }

  const exposure = () => exposureTotal

  /** Redeems every lane whose best voucher is above what was claimed, when `force` or the policy says so. */
  const maybeRedeem = (force = false): Promise<void> => {
    if (redeeming) return force ? redeeming.then(() => maybeRedeem(true)) : redeeming
    const now = chainNow()
    const soon = BigInt(o.redeem.beforeExpirySeconds)
    const due: ProviderLane[] = []
    const later: ProviderLane[] = []
    let total = 0n
    for (const l of lanes.values()) {
      // a lane reclaimed, or past expiry plus the reclaim delay (or about to be, by the time a transaction lands),
      // cannot be redeemed: in a batch it would sink the payer's other lanes, and what it holds is owed no more
      if (l.closed || now + DEADLINE_MARGIN >= l.expiresAt + reclaimDelay) {
        exposureTotal -= l.exposure
        l.exposure = 0n
        continue
      }
      if (l.best <= l.claimed) continue
      total += l.best - l.claimed
      ;(force || l.expiresAt - now <= soon ? due : later).push(l)
    }
    if (!force && total >= o.redeem.exposureThreshold && total > 0n) due.push(...later)
    if (!due.length) return Promise.resolve()
    const vouchers = due.map((l) => ({
      lane: l.lane,
      cumulative: l.best,
      ...(l.held.get(l.best) as SignedVoucher),
    }))
    redeeming = (async () => {
      try {
        const r = await redeemVouchers(client, { vouchers })
        for (const x of r.redemptions) {
          stats.redemptions++
          stats.redeemed += x.total
        }
        for (const v of vouchers) {
          const l = lanes.get(v.lane.laneId.toLowerCase())
          if (l) setClaimed(l, v.cumulative)
        }
      } catch (err) {
        stats.redeemErrors++
        stats.lastRedeemError = (err as Error).message.split('\n')[0]
        o.onError(err as BaseError)
        await Promise.all(due.map(refresh))
      } finally {
        redeeming = undefined
      }
    })()
    return redeeming
  }

  return {
    lanes,
    stats,
    load,
    status,
    chainNow,
    exposure,
    priceOf,
    licenseInfo,
    updateBest,
    /**
     * Reads the lane from the chain again before refusing it as expired or exhausted (at most four times
     * a second per lane): a top-up may have landed since the last poll. True when it read.
     */
    async refreshIfStale(l: ProviderLane): Promise<boolean> {
      if (Date.now() - l.refreshedAt < 250) return false
      await refresh(l)
      return true
    },
    /** Charges a successful call; its receipt is to be signed next ({@link signed} or {@link uncharge}). */
    charge(l: ProviderLane) {
      l.inflight -= l.price
      l.charged += l.price
      l.signing++
    },
    /** The receipt of a charged call was signed: what it paid may be redeemed. */
    signed(l: ProviderLane) {
      l.signing--
      updateBest(l)
      if (exposure() >= o.redeem.exposureThreshold) void maybeRedeem()
    },
    /** Takes back the charge of a call whose receipt could not be signed; its voucher may pay again. */
    uncharge(l: ProviderLane, cumulative: bigint) {
      // a settlement that landed meanwhile may have lifted what is charged to what it claimed
      // biome-ignore lint/complexity/useMathMinMax: bigints (Math.max takes numbers)
      l.charged = l.charged - l.price > l.claimed ? l.charged - l.price : l.claimed
      l.signing--
      forget(l, cumulative)
    },
    /** A call that was not charged (the model failed, timed out or was aborted): its voucher may pay again. */
    release(l: ProviderLane, cumulative: bigint) {
      l.inflight -= l.price
      forget(l, cumulative)
    },
    maybeRedeem,
    /** Whether the watch has polled successfully recently. */
    synced: () => Date.now() - lastPollOk < Math.max(5_000, o.pollIntervalMs * 10),
    head: () => head,
    async start() {
      reclaimDelay = await readContract<bigint>(client, {
        address: client.addresses.ledger,
        abi: ledgerAbi,
        functionName: 'reclaimDelay',
      })
      watch = await watchLedgerEvents(client, {
        pollIntervalMs: o.pollIntervalMs,
        onEvents: apply,
        onHead: (h) => {
          head = h
          lastPollOk = Date.now()
        },
        onError: o.onError,
      })
      head = watch.head()
      lastPollOk = Date.now()
      timer = setInterval(() => void maybeRedeem().catch(() => undefined), 1_000)
      timer.unref?.()
    },
    /** Polls the chain now: events applied, head (and chain time) updated. */
    async sync() {
      if (watch) await watch.poll()
    },
    async stop() {
      watch?.stop()
      clearInterval(timer)
      await redeeming
    },
  }
}

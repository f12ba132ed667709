import type { Address, Hex } from 'viem'
import type { TributaryClient } from '../chain/client.js'
import { getBlockNumber, getRegistryLogs } from '../chain/getRegistryLogs.js'
import { BaseError } from '../errors/base.js'
import { type Ancestor, decodeLineage } from '../pay/lane.js'
import { type Card, hashCard, parseCard } from './card.js'
import { createStaticDirectory } from './createStaticDirectory.js'
import type { JSONSchema, ModelDirectory, ModelRef, ResolvedModel } from './directory.js'
import { checkSubschema } from './jsonSchema.js'
import type { Payee } from './terms.js'

/** An asset as the index knows it: on-chain facts, the verified card, and quality measured from receipts. */
export type Listing = {
  assetId: bigint
  owner: Address
  kind: 'model' | 'dataset'
  royaltyBps: number
  ancestors: readonly Ancestor[]
  lineageHash: Hex
  cardURI: string
  cardHash: Hex
  cardVersion: number
  /** The card, once fetched and checked against the on-chain hash. */
  card?: Card | undefined
  /** Why the card could not be used (fetch failed, hash mismatch, host not allowed, invalid). */
  cardError?: string | undefined
  terms: {
    version: number
    token: Address
    pricePerCall: bigint
    flatFee: bigint
    flatPeriodSeconds: number
    payees: Payee[]
  }
  quality: ListingQuality
}

/** Measured from receipts of paid calls. */
export type ListingQuality = {
  calls: number
  successes: number
  /** successes / calls; undefined before the first call. */
  successRate: number | undefined
  /** Median latency of successful calls, ms. */
  p50LatencyMs: number | undefined
}

export type SearchQuery = {
  capability?: string | undefined
  /** Words matched against id, description and capabilities. */
  text?: string | undefined
  /** What you will send: the model's input schema must accept every value of it. */
  input?: JSONSchema | undefined
  /** What you need back: every value of the model's output schema must satisfy it. */
  output?: JSONSchema | undefined
  maxPricePerCall?: bigint | undefined
  minSuccessRate?: number | undefined
  maxP50LatencyMs?: number | undefined
  kind?: 'model' | 'dataset' | undefined
  limit?: number | undefined
}

export type CreateDiscoveryIndexParameters = {
  client: TributaryClient
  /** Hosts cards may be fetched from (exact host names, or `*.example.com`). */
  allowHosts?: readonly string[] | undefined
  /** Also allow loopback hosts (default: true unless NODE_ENV is production). */
  allowLoopback?: boolean | undefined
  /** Card fetch timeout (default 3 000 ms). */
  fetchTimeoutMs?: number | undefined
  /** Largest card accepted (default 256 KiB). */
  maxCardBytes?: number | undefined
  /** How often `start()` polls for new registry events (default 1 000 ms). */
  pollIntervalMs?: number | undefined
}

export type DiscoveryIndex = ModelDirectory & {
  /** Replays the registry from block 0, fetches the cards, then follows new events. */
  start(): Promise<void>
  /** Processes the events since the last sync now (and fetches changed cards). */
  sync(): Promise<void>
  stop(): void
  listings(): Listing[]
  get(assetId: bigint): Listing | undefined
  /** Listings that fit the query, best first: text match, measured reliability, price, latency. */
  search(query: SearchQuery): Listing[]
  /** The listing as the workflow engine and the client consume it (verified card required). */
  toResolved(listing: Listing): ResolvedModel | undefined
  /** Feeds the quality measure from a paid call's outcome (a verified receipt, or a failure). */
  recordCall(assetId: bigint, outcome: { ok: boolean; latencyMs: number }): void
  /** The last block processed. */
  readonly block: bigint
}

/** A card URL was refused before any request was made. */
export class CardHostNotAllowedError extends BaseError {
  override name = 'CardHostNotAllowedError' as const
}

const LATENCY_WINDOW = 256

/**
 * The discovery index: built from the registry's events and kept live, it fetches each card with a host
 * allowlist, a size limit and a timeout, keeps it only when its keccak256 matches the on-chain card hash,
 * and answers searches by capability, text, schema compatibility, price and measured quality. It is a
 * `ModelDirectory`, so workflows resolve `'id@range'` and capability queries against it.
 *
 * @example
 * ```ts
 * const index = createDiscoveryIndex({ client })
 * await index.start()
 * const [best] = index.search({ capability: 'text.sentiment', maxPricePerCall: 5_000n })
 * index.stop()
 * ```
 */
export function createDiscoveryIndex(p: CreateDiscoveryIndexParameters): DiscoveryIndex {
  const allowLoopback = p.allowLoopback ?? process.env.NODE_ENV !== 'production'
  const timeoutMs = p.fetchTimeoutMs ?? 3_000
  const maxBytes = p.maxCardBytes ?? 256 * 1024
  const listings = new Map<bigint, Listing>()
  const latencies = new Map<bigint, number[]>()
  let block = -1n
  let timer: NodeJS.Timeout | undefined
  let syncing: Promise<void> | undefined

  const hostAllowed = (url: URL) => {
    const host = url.hostname.replace(/^\[|\]$/g, '')
    if (allowLoopback && (host === 'localhost' || host === '::1' || /^127\./.test(host))) return true
    return (p.allowHosts ?? []).some((h) => (h.startsWith('*.') ? host.endsWith(h.slice(1)) : host === h))
  }

  async function fetchCard(l: Listing): Promise<void> {
    l.card = undefined
    l.cardError = undefined
    let url: URL
    try {
      url = new URL(l.cardURI)
    } catch {
      l.cardError = `card URI ${l.cardURI} is not a URL`
      return
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      l.cardError = `card URI ${l.cardURI} is not http(s)`
      return
    }
    if (!hostAllowed(url)) {
      l.cardError = new CardHostNotAllowedError(
        `card host ${url.hostname} is not on the allowlist`,
      ).shortMessage
      return
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' })
      if (!res.ok) {
        l.cardError = `card fetch answered HTTP ${res.status}`
        return
      }
      const text = await readLimited(res, maxBytes)
      if (text === undefined) {
        l.cardError = `card is larger than ${maxBytes} bytes`
        return
      }
      const card = parseCard(JSON.parse(text), { source: l.cardURI })
      const hash = hashCard(card)
      if (hash.toLowerCase() !== l.cardHash.toLowerCase()) {
        l.cardError = `card hash ${hash} does not match the on-chain hash ${l.cardHash}`
        return
      }
      if (card.kind !== l.kind) {
        l.cardError = `card says ${card.kind}, the registry says ${l.kind}`
        return
      }
      l.card = card
    } catch (err) {
      l.cardError =
        err instanceof BaseError ? err.shortMessage : err instanceof Error ? err.message : String(err)
    }
  }

  async function syncOnce(): Promise<void> {
    const head = await getBlockNumber(p.client)
    if (head <= block) return
    const logs = await getRegistryLogs(p.client, { fromBlock: block + 1n, toBlock: head })
    const stale = new Set<Listing>()
    for (const log of logs) {
      const a = log.args
      const id = a.assetId as bigint | undefined
      switch (log.eventName) {
        case 'AssetRegistered': {
          const l: Listing = {
            assetId: id as bigint,
            owner: a.owner as Address,
            kind: Number(a.kind) === 1 ? 'dataset' : 'model',
            royaltyBps: Number(a.royaltyBps),
            ancestors: decodeLineage(a.lineage as Hex),
            lineageHash: a.lineageHash as Hex,
            cardURI: '',
            cardHash: '0x',
            cardVersion: 0,
            terms: {
              version: 0,
              token: '0x',
              pricePerCall: 0n,
              flatFee: 0n,
              flatPeriodSeconds: 0,
              payees: [],
            },
            quality: { calls: 0, successes: 0, successRate: undefined, p50LatencyMs: undefined },
          }
          listings.set(l.assetId, l)
          break
        }
        case 'CardPublished': {
          const l = listings.get(id as bigint)
          if (!l) break
          l.cardURI = a.uri as string
          l.cardHash = a.cardHash as Hex
          l.cardVersion = Number(a.version)
          stale.add(l)
          break
        }
        case 'TermsUpdated': {
          const l = listings.get(id as bigint)
          if (!l) break
          const t = a.terms as { token: Address; pricePerCall: bigint; flatFee: bigint; flatPeriod: number }
          const payees = a.payees as readonly Address[]
          const shares = a.shares as readonly number[]
          l.terms = {
            version: Number(a.version),
            token: t.token,
            pricePerCall: t.pricePerCall,
            flatFee: t.flatFee,
            flatPeriodSeconds: Number(t.flatPeriod),
            payees: payees.map((address, i) => ({ address, shareBps: Number(shares[i] ?? 0) })),
          }
          break
        }
        case 'Transfer': {
          const l = listings.get(a.tokenId as bigint)
          if (l) l.owner = a.to as Address
          break
        }
      }
    }
    await Promise.all([...stale].map(fetchCard))
    block = head
  }

  const sync = () => {
    // one sync at a time; callers during a sync wait for it and then run their own
    const run = (syncing ?? Promise.resolve()).then(syncOnce)
    syncing = run.catch(() => undefined)
    return run
  }

  const toResolved = (l: Listing): ResolvedModel | undefined => {
    const c = l.card
    if (!c || l.kind !== 'model' || !c.input || !c.output) return undefined
    return {
      assetId: l.assetId,
      id: c.id,
      version: c.version,
      capabilities: c.capabilities,
      inputSchema: c.input as JSONSchema,
      outputSchema: c.output as JSONSchema,
      pricePerCall: l.terms.pricePerCall,
      token: l.terms.token,
      ...(c.endpoint ? { endpoint: c.endpoint } : {}),
    }
  }

  const usable = () => [...listings.values()].map(toResolved).filter((m): m is ResolvedModel => !!m)

  function search(q: SearchQuery): Listing[] {
    const words = (q.text ?? '')
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .filter(Boolean)
    const scored: { l: Listing; textScore: number }[] = []
    for (const l of listings.values()) {
      const c = l.card
      if (!c) continue
      if (q.kind && l.kind !== q.kind) continue
      if (q.capability && !c.capabilities.includes(q.capability)) continue
      if (q.maxPricePerCall !== undefined && l.terms.pricePerCall > q.maxPricePerCall) continue
      const qa = l.quality
      if (q.minSuccessRate !== undefined && qa.successRate !== undefined && qa.successRate < q.minSuccessRate)
        continue
      if (
        q.maxP50LatencyMs !== undefined &&
        qa.p50LatencyMs !== undefined &&
        qa.p50LatencyMs > q.maxP50LatencyMs
      )
        continue
      if (q.input) {
        if (!c.input || checkSubschema(q.input, c.input as JSONSchema).some((i) => i.severity === 'error'))
          continue
      }
      if (q.output) {
        if (!c.output || checkSubschema(c.output as JSONSchema, q.output).some((i) => i.severity === 'error'))
          continue
      }
      let textScore = 0
      if (words.length) {
        const hay = `${c.id} ${c.description} ${c.capabilities.join(' ')}`.toLowerCase()
        textScore = words.filter((w) => hay.includes(w)).length
        if (textScore === 0) continue
      }
      scored.push({ l, textScore })
    }
    scored.sort(
      (x, y) =>
        y.textScore - x.textScore ||
        reliability(y.l.quality) - reliability(x.l.quality) ||
        (x.l.terms.pricePerCall < y.l.terms.pricePerCall
          ? -1
          : x.l.terms.pricePerCall > y.l.terms.pricePerCall
            ? 1
            : 0) ||
        (x.l.quality.p50LatencyMs ?? 0) - (y.l.quality.p50LatencyMs ?? 0),
    )
    return scored.slice(0, q.limit ?? scored.length).map((s) => s.l)
  }

  return {
    get block() {
      return block
    },
    async start() {
      await sync()
      if (!timer) {
        timer = setInterval(() => {
          sync().catch(() => undefined)
        }, p.pollIntervalMs ?? 1_000)
        timer.unref()
      }
    },
    sync,
    stop() {
      if (timer) clearInterval(timer)
      timer = undefined
    },
    listings: () => [...listings.values()],
    get: (assetId) => listings.get(assetId),
    search,
    toResolved,
    resolve: (ref: ModelRef) => createStaticDirectory(usable()).resolve(ref),
    recordCall(assetId, outcome) {
      const l = listings.get(assetId)
      if (!l) return
      l.quality.calls++
      if (outcome.ok) {
        l.quality.successes++
        const w = latencies.get(assetId) ?? []
        w.push(outcome.latencyMs)
        if (w.length > LATENCY_WINDOW) w.shift()
        latencies.set(assetId, w)
        const sorted = [...w].sort((a, b) => a - b)
        l.quality.p50LatencyMs = sorted[Math.floor((sorted.length - 1) / 2)]
      }
      l.quality.successRate = l.quality.successes / l.quality.calls
    },
  }
}

/** Success rate smoothed toward one half ((s + 1) / (n + 2)): measured reliability beats no data. */
const reliability = (q: ListingQuality) => (q.successes + 1) / (q.calls + 2)

async function readLimited(res: Response, maxBytes: number): Promise<string | undefined> {
  const declared = Number(res.headers.get('content-length') ?? '0')
  if (declared > maxBytes) {
    await res.body?.cancel()
    return undefined
  }
  const reader = res.body?.getReader()
  if (!reader) return ''
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBytes) {
      await reader.cancel()
      return undefined
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

import type { IncomingMessage, ServerResponse } from 'node:http'
import express, { type Request, type Response, type Router } from 'express'
import { type Address, getAddress, type Hex } from 'viem'
import type { TributaryClient } from '../chain/client.js'
import { BaseError } from '../errors/base.js'
import { canonicalJson } from '../market/card.js'
import type { CallReceipt } from '../pay/callReceipt.js'
import {
  type CallReceiptSigner,
  createCallReceiptSigner,
  type SignedCallReceipt,
} from '../pay/createCallReceiptSigner.js'
import type { SignedVoucher } from '../pay/createVoucherSigner.js'
import { keccak256Hex } from '../pay/keccak.js'
import { MAX_PROOF } from '../pay/merkle.js'
import { verifyVoucher, verifyVoucherNative } from '../pay/verifyVoucher.js'
import type { ModelDefinition } from './defineModel.js'
import {
  InvalidModelInputError,
  InvalidModelOutputError,
  ModelAbortedError,
  ModelNotRunnableError,
  ModelTimeoutError,
  type ValidationIssue,
} from './errors.js'
import {
  base64Utf8,
  caip2,
  decodeHeaderText,
  encodeHeader,
  hashJson,
  IDEMPOTENCY_KEY_HEADER,
  LANE_SCHEME,
  type LanePaymentPayload,
  type LanePaymentRequired,
  type LanePaymentResponse,
  PAYMENT_REQUIRED_HEADER,
  PAYMENT_RESPONSE_HEADER,
  PAYMENT_SIGNATURE_HEADER,
  type PaymentErrorCode,
  type WireLaneStatus,
  X402_VERSION,
} from './laneScheme.js'
import {
  ADDRESS,
  DECIMAL_20,
  DECIMAL_30,
  HEX_32,
  HEX_65,
  learnPaymentLayout,
  readKnownPayment,
} from './paymentLayout.js'
import { createLaneBook, type LaneBook, type ProviderLane, spendFloor } from './providerLanes.js'

/** Where the cards are served, under the router's mount point. */
export const CARDS_PATH = '/.well-known/tributary/cards'

/** Options of {@link tributaryRouter} (and {@link serveModels}). */
export type TributaryRouterOptions = {
  /** `'required'` (default): every call pays with a voucher. `'off'`: calls are free (no chain needed). */
  payment?: 'required' | 'off' | undefined
  /** The provider's client: reads lanes, signs receipts, redeems vouchers. Required when payment is on. */
  client?: TributaryClient | undefined
  /** Defaults to the client's chain. Vouchers for any other chain are refused. */
  chainId?: number | undefined
  /** Defaults to the client's ledger. */
  ledger?: Address | undefined
  /** The token that cards' `terms.token: 'default'` stands for (defaults to the client's stablecoin). */
  token?: Address | undefined
  /** On-chain asset id of each served model, or a resolver (asked until it answers; then cached). */
  assetIds?:
    | Readonly<Record<string, bigint>>
    | ((modelId: string) => bigint | undefined | Promise<bigint | undefined>)
    | undefined
  /** Public URL of the mount point (e.g. `http://127.0.0.1:8080`): cards' endpoints point below it. */
  baseUrl?: string | undefined
  redeem?:
    | {
        /** Redeem every lane once the unredeemed total passes this (token units; default 1 000 000). */
        exposureThreshold?: bigint | undefined
        /** Redeem a lane this many seconds before it expires (default 600). */
        beforeExpirySeconds?: number | undefined
      }
    | undefined
  limits?:
    | {
        /** Largest request body (default 1 MiB). */
        bodyBytes?: number | undefined
        /** Calls per second per payer (or per client IP when unpaid); default 500. */
        perPayerPerSecond?: number | undefined
        /** Burst above the rate (default twice the rate). */
        burst?: number | undefined
      }
    | undefined
  /** Cap on a model's own time budget per call. */
  timeoutMs?: number | undefined
  /** How often the chain is polled for lane events (default 250 ms). */
  pollIntervalMs?: number | undefined
  idempotency?: { ttlSeconds?: number | undefined; maxEntries?: number | undefined } | undefined
  /** Sample input per model id: run once at start; a model is healthy only after its sample ran. */
  warmup?: Readonly<Record<string, unknown>> | undefined
  /** Called with background failures (chain polling, redemptions). */
  onError?: ((error: unknown) => void) | undefined
  /**
   * Most receipts signed under one signature (default 64). The receipts of calls finishing in one turn
   * of the event loop and the next are signed together; 1 signs every receipt alone, at once.
   */
  receiptBatch?: number | undefined
}

/** Model health as `/health` reports it. */
export type ModelHealth = {
  id: string
  version: string
  assetId: string | null
  status: 'ready' | 'warming' | 'failing'
  consecutiveFailures: number
  lastError: string | null
}

/** Counters of a provider. Amounts in token units. */
export type ProviderStats = {
  calls: { paid: number; free: number; failed: number; refused: number; replayed: number }
  /** Sum of the prices of successful paid calls. */
  charged: bigint
  /** What redemptions brought in, and how many transactions. */
  redeemed: bigint
  redemptions: number
  redeemErrors: number
  /** Charged and held in vouchers but not yet claimed on-chain. */
  unredeemed: bigint
  lanes: number
  /** Signatures made over receipt batches (paid calls ÷ this = receipts per signature). */
  receiptSignatures: number
  /** Paid calls whose voucher came signed in a batch with other vouchers (`Vouchers(root)` and a proof). */
  batchedVouchers: number
}

/** The provider behind a router: lifecycle, stats and the lane book. */
export type ProviderControls = {
  /** Resolves when the chain watch is running and warm-ups are done (rejects if the chain is unreachable). */
  ready: Promise<void>
  readonly stats: ProviderStats
  /** `/health`'s answer. */
  health(): { ok: boolean; body: Record<string, unknown> }
  /** Polls the chain now (events and chain time). */
  sync(): Promise<void>
  /** Redeems every lane with an unredeemed voucher now. */
  redeem(): Promise<void>
  /** The provider's view of a lane (amounts in token units). */
  lane(laneId: Hex): WireLaneStatus | undefined
  setBaseUrl(url: string): void
  setAssetId(modelId: string, assetId: bigint): void
  /** Stops the chain watch, redeems what is owed (unless `redeem: false`). */
  close(options?: { redeem?: boolean }): Promise<void>
}

export type TributaryRouter = Router & { readonly provider: ProviderControls }

/** The router was configured wrongly. */
export class ProviderConfigError extends BaseError {
  override name = 'ProviderConfigError' as const
}

type CachedResponse = {
  fingerprint: Hex
  status: number
  body: Buffer
  headers: Record<string, string>
  at: number
}

const JSON_TYPE = 'application/json; charset=utf-8'
const MAX_HEADER = 4_096
const noClaim = () => undefined

/**
 * An Express router that serves models with x402-shaped payment (`tributary-lane` scheme): cards at
 * `/.well-known/tributary/cards`, `GET /health`, and `POST /models/<publisher>/<name>/invoke`. A call
 * without a valid voucher is answered `402` with machine-readable requirements; a paid call returns the
 * output and a provider-signed receipt in `PAYMENT-RESPONSE`. A failed call is never charged; the same
 * `Idempotency-Key` (per payer) is answered once and charged once. Lane state comes from the chain once
 * per lane and stays fresh from ledger events; vouchers are redeemed on-chain by the provider when the
 * unredeemed total passes a threshold or a lane nears expiry.
 *
 * @example
 * ```ts
 * const app = express()
 * const router = tributaryRouter([shout], { client: provider, assetIds: { 'acme/shout': 7n } })
 * app.use(router)
 * app.listen(8080, '127.0.0.1')
 * router.provider.setBaseUrl('http://127.0.0.1:8080')
 * ```
 */
export function tributaryRouter(
  models: readonly ModelDefinition[],
  options: TributaryRouterOptions = {},
): TributaryRouter {
  const paid = (options.payment ?? 'required') === 'required'
  const client = options.client
  if (paid && !client)
    throw new ProviderConfigError('payment is required but no client was given', {
      metaMessages: ["- Pass the provider's TributaryClient as `client`, or set payment: 'off'."],
    })
  const chainId = options.chainId ?? client?.chain.id ?? 0
  const ledger = options.ledger ?? client?.addresses.ledger
  if (paid && (!ledger || !client?.addresses.registry))
    throw new ProviderConfigError('the client has no ledger or registry address')
  const network = caip2(chainId)
  const ledgerLower = ledger?.toLowerCase()
  const byId = new Map<string, ModelDefinition>()
  for (const m of models) {
    if (byId.has(m.id))
      throw new ProviderConfigError(`model "${m.id}" is given twice; serve one version per id`)
    byId.set(m.id, m)
  }
  const bodyLimit = options.limits?.bodyBytes ?? 1_048_576
  const rate = options.limits?.perPayerPerSecond ?? 500
  const burst = options.limits?.burst ?? rate * 2
  const idemTtlMs = (options.idempotency?.ttlSeconds ?? 600) * 1000
  const idemMax = options.idempotency?.maxEntries ?? 20_000
  const onError = options.onError ?? (() => undefined)
  let baseUrl = options.baseUrl?.replace(/\/$/, '')

  const assetIds = new Map<string, bigint>()
  if (options.assetIds && typeof options.assetIds === 'object')
    for (const [k, v] of Object.entries(options.assetIds)) assetIds.set(k, v)
  const resolver = typeof options.assetIds === 'function' ? options.assetIds : undefined
  const assetIdOf = async (id: string): Promise<bigint | undefined> => {
    const known = assetIds.get(id)
    if (known !== undefined || !resolver) return known
    const found = await resolver(id)
    if (found !== undefined) assetIds.set(id, found)
    return found
  }

  const book: LaneBook | undefined =
    paid && client
      ? createLaneBook({
          client,
          pollIntervalMs: options.pollIntervalMs ?? 250,
          redeem: {
            exposureThreshold: options.redeem?.exposureThreshold ?? 1_000_000n,
            beforeExpirySeconds: options.redeem?.beforeExpirySeconds ?? 600,
          },
          onError,
        })
      : undefined

  if (
    options.receiptBatch !== undefined &&
    (!Number.isInteger(options.receiptBatch) || options.receiptBatch < 1)
  )
    throw new ProviderConfigError(`receiptBatch must be a positive integer, got ${options.receiptBatch}`, {
      metaMessages: ['- Leave it unset for 64, or pass 1 to sign every receipt alone.'],
    })
  if (paid && client && !client.privateKey && !client.account.signTypedData)
    throw new ProviderConfigError(`account ${client.account.address} cannot sign receipts`, {
      metaMessages: [
        "- Give the provider's client a local account (privateKeyToAccount) or its private key, so that it can sign EIP-712 receipts.",
      ],
    })
  const receipts =
    paid && client && ledger
      ? createCallReceiptSigner({
          account: client.account,
          privateKey: client.privateKey,
          chainId,
          ledger,
          maxBatch: options.receiptBatch,
        })
      : undefined

  const counters = { paid: 0, free: 0, failed: 0, refused: 0, replayed: 0 }
  let batchedVouchers = 0
  let charged = 0n
  const health = new Map<string, ModelHealth>()
  for (const m of models)
    health.set(m.id, {
      id: m.id,
      version: m.version,
      assetId: null,
      status: options.warmup && m.id in options.warmup ? 'warming' : 'ready',
      consecutiveFailures: 0,
      lastError: null,
    })

  const idem = new Map<string, CachedResponse>()
  const pending = new Map<string, Promise<void>>()
  const buckets = new Map<string, { tokens: number; at: number }>()

  let chainError: unknown
  // once ready resolved, paid calls skip awaiting it
  let isReady = false
  const ready = (async () => {
    const warm = Object.entries(options.warmup ?? {}).map(async ([id, sample]) => {
      const m = byId.get(id)
      const h = health.get(id)
      if (!m || !h) return
      try {
        await m.handler(sample, { timeoutMs: Math.max(m.timeoutMs, 60_000) })
        h.status = 'ready'
      } catch (err) {
        h.status = 'failing'
        h.lastError = err instanceof BaseError ? err.shortMessage : String(err)
      }
    })
    try {
      await book?.start()
    } catch (err) {
      chainError = err
      onError(err)
    }
    await Promise.all(warm)
    if (chainError) throw chainError
    isReady = true
  })()
  ready.catch(() => undefined)

  const endpointOf = (id: string, req?: Request) => {
    const base = baseUrl ?? (req ? `${req.protocol}://${req.get('host')}${req.baseUrl}` : 'http://127.0.0.1')
    return `${base}/models/${id}/invoke`
  }
  const cardOf = (m: ModelDefinition, req?: Request) =>
    m.runnable ? m.cardFor({ endpoint: endpointOf(m.id, req) }) : m.card

  const limited = (key: string): number => {
    const now = Date.now()
    let b = buckets.get(key)
    if (!b) {
      if (buckets.size > 50_000) buckets.clear()
      b = { tokens: burst, at: now }
      buckets.set(key, b)
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate)
    b.at = now
    if (b.tokens >= 1) {
      b.tokens -= 1
      return 0
    }
    return Math.ceil(((1 - b.tokens) / rate) * 1000)
  }

  const remember = (scope: string, entry: CachedResponse) => {
    if (idem.size >= idemMax) {
      // oldest first: Map iterates in insertion order
      const drop = Math.max(1, Math.floor(idemMax / 10))
      let i = 0
      for (const k of idem.keys()) {
        if (i++ >= drop) break
        idem.delete(k)
      }
    }
    idem.set(scope, entry)
  }
  const recall = (scope: string) => {
    const e = idem.get(scope)
    if (e && Date.now() - e.at > idemTtlMs) {
      idem.delete(scope)
      return undefined
    }
    return e
  }

  const requirements = (
    m: ModelDefinition,
    assetId: bigint,
    price: bigint,
    termsVersion: number,
    token: Address,
  ) => ({
    scheme: LANE_SCHEME,
    network: caip2(chainId),
    chainId,
    asset: getAddress(token),
    amount: price.toString(),
    payTo: getAddress(client?.account.address as Address),
    maxTimeoutSeconds: Math.ceil(Math.min(m.timeoutMs, options.timeoutMs ?? m.timeoutMs) / 1000),
    ledger: getAddress(ledger as Address),
    registry: getAddress(client?.addresses.registry as Address),
    assetId: assetId.toString(),
    model: m.id,
    version: m.version,
    termsVersion,
  })

  const paymentRequired = async (
    req: Request,
    res: Response,
    m: ModelDefinition,
    assetId: bigint,
    code: PaymentErrorCode,
    error: string,
    hint: string,
    lane?: ProviderLane,
  ) => {
    counters.refused++
    let info: { price: bigint; termsVersion: number; token: Address }
    try {
      const l = await (book as LaneBook).licenseInfo(assetId)
      info = { price: l.price, termsVersion: l.termsVersion, token: l.token }
    } catch (err) {
      return fail(
        res,
        503,
        'chain_unavailable',
        'the provider cannot read the model terms from the chain; retry later',
        {
          details: err instanceof BaseError ? err.shortMessage : String(err),
        },
      )
    }
    const body: LanePaymentRequired = {
      x402Version: X402_VERSION,
      error,
      code,
      resource: { url: endpointOf(m.id, req), description: m.card.description, mimeType: 'application/json' },
      accepts: [requirements(m, assetId, info.price, info.termsVersion, info.token)],
      ...(lane ? { lane: (book as LaneBook).status(lane) } : {}),
      hint,
    }
    send(res, 402, body, { [PAYMENT_REQUIRED_HEADER]: encodeHeader(body) })
  }

  const invoke = async (req: Request, res: Response, id: string) => {
    const started = performance.now()
    const m = byId.get(id)
    if (!m?.runnable)
      return fail(
        res,
        404,
        'unknown_model',
        `no model "${id}" is served here; GET ${CARDS_PATH} lists the models this provider serves`,
      )
    const type = req.headers['content-type']
    if (type && !/\bjson\b/i.test(type))
      return fail(res, 415, 'unsupported_media_type', `send the input as application/json, not ${type}`)
    let input: unknown
    const preParsed = (req as Request & { _body?: boolean })._body === true
    if (preParsed) {
      input = req.body
    } else {
      const declared = Number(req.headers['content-length'] ?? 0)
      if (declared > bodyLimit) return tooLarge(res, bodyLimit)
      let raw: Buffer
      try {
        raw = await readBody(req, bodyLimit)
      } catch (err) {
        if ((err as { tooLarge?: boolean }).tooLarge) return tooLarge(res, bodyLimit)
        return fail(res, 400, 'unreadable_body', 'the request body could not be read; send it again')
      }
      try {
        input = JSON.parse(raw.toString('utf8'))
      } catch (err) {
        return fail(res, 400, 'malformed_json', `the body is not valid JSON: ${(err as Error).message}`)
      }
    }
    let inputHash: Hex
    try {
      inputHash = hashJson(input)
    } catch {
      return fail(res, 400, 'malformed_json', 'the body is not a JSON value')
    }
    const keyHeader = req.headers[IDEMPOTENCY_KEY_HEADER]
    const idemKey =
      typeof keyHeader === 'string' && keyHeader.length > 0 ? keyHeader.slice(0, 256) : undefined

    if (!paid) {
      const who = `ip:${req.socket.remoteAddress}`
      const wait = limited(who)
      if (wait) return rateLimited(res, wait)
      const scope = idemKey ? `anon:${m.id}:${idemKey}` : undefined
      const claim = scope ? await claimKey(res, scope, inputHash) : noClaim
      if (!claim) return
      try {
        await run(res, m, input, inputHash, scope, started, undefined)
      } finally {
        claim()
      }
      return
    }

    if (!isReady)
      try {
        await ready
      } catch {
        return fail(res, 503, 'chain_unavailable', 'the provider cannot reach its chain; retry later')
      }
    const bk = book as LaneBook
    let assetId: bigint | undefined = assetIds.get(m.id)
    if (assetId === undefined)
      try {
        assetId = await assetIdOf(m.id)
      } catch {
        assetId = undefined
      }
    if (assetId === undefined)
      return fail(
        res,
        503,
        'model_not_listed',
        `model "${m.id}" is not published on-chain yet, so it cannot be paid for; retry once it is listed`,
      )
    const h = health.get(m.id)
    if (h && h.assetId === null) h.assetId = assetId.toString()

    const header = req.headers[PAYMENT_SIGNATURE_HEADER] ?? req.headers['x-payment']
    if (typeof header !== 'string' || header.length === 0) {
      const checked = m.input.safeParse(input)
      if (!checked.success) return invalidInput(res, m.id, checked.error.issues)
      const wait = limited(`ip:${req.socket.remoteAddress}`)
      if (wait) return rateLimited(res, wait)
      return paymentRequired(
        req,
        res,
        m,
        assetId,
        'payment_required',
        `model "${m.id}" is paid per call; send a voucher in the PAYMENT-SIGNATURE header`,
        `open a lane with openLicense(modelId ${assetId}) on ledger ${ledger} (chain ${chainId}), then sign Voucher(laneId, cumulative) and retry with PAYMENT-SIGNATURE`,
      )
    }
    const pay = parsePayment(header)
    if (typeof pay === 'string')
      return paymentRequired(
        req,
        res,
        m,
        assetId,
        'invalid_payment',
        pay,
        'send base64 JSON { x402Version: 2, scheme: "tributary-lane", network, payload: { ledger, laneId, cumulative, signature, lane } }',
      )
    // the ledger's format was checked by parsePayment: a case-insensitive compare is an address compare
    if (pay.network !== network || pay.payload.ledger.toLowerCase() !== ledgerLower)
      return paymentRequired(
        req,
        res,
        m,
        assetId,
        'wrong_network',
        `the voucher is for ${pay.network} ledger ${pay.payload.ledger}; this provider is paid on ${caip2(chainId)} ledger ${ledger}`,
        `open a lane on chain ${chainId}, ledger ${ledger}`,
      )
    let lane: ProviderLane | undefined
    try {
      const known = bk.load(pay.payload.laneId, pay.payload.lane)
      lane = known instanceof Promise ? await known : known
    } catch (err) {
      onError(err)
      return fail(
        res,
        503,
        'chain_unavailable',
        'the provider cannot read the lane from the chain; retry later',
      )
    }
    if (!lane)
      return paymentRequired(
        req,
        res,
        m,
        assetId,
        'unknown_lane',
        `lane ${pay.payload.laneId} does not exist on ledger ${ledger} with the key the payment names`,
        `open a lane with openLicense(modelId ${assetId}) and send its key`,
      )
    if (lane.lane.modelId !== assetId)
      return paymentRequired(
        req,
        res,
        m,
        assetId,
        'wrong_lane',
        `lane ${lane.lane.laneId} pays model ${lane.lane.modelId}, not "${m.id}" (asset ${assetId})`,
        `use a lane opened on asset ${assetId}`,
      )
    if (lane.closed)
      return paymentRequired(
        req,
        res,
        m,
        assetId,
        'lane_closed',
        `lane ${lane.lane.laneId} was reclaimed and is closed`,
        `open a new lane with openLicense(modelId ${assetId})`,
      )
    if (bk.chainNow() >= lane.expiresAt) await bk.refreshIfStale(lane)
    if (bk.chainNow() >= lane.expiresAt)
      return paymentRequired(
        req,
        res,
        m,
        assetId,
        'lane_expired',
        `lane ${lane.lane.laneId} expired at ${new Date(Number(lane.expiresAt) * 1000).toISOString()}`,
        `open a new lane with openLicense(modelId ${assetId}), or extend a live one with topUpLicense() before it expires`,
        lane,
      )
    const cumulative = BigInt(pay.payload.cumulative)
    const voucher = {
      chainId,
      ledger: ledger as Address,
      laneId: lane.lane.laneId,
      cumulative,
      signature: pay.payload.signature,
      payer: lane.lane.payer,
      proof: pay.payload.proof,
    }
    const verdict = verifyVoucherNative(voucher) ?? (await verifyVoucher(voucher))
    if (!verdict.valid)
      return paymentRequired(
        req,
        res,
        m,
        assetId,
        'invalid_signature',
        verdict.message,
        `sign Voucher(laneId, cumulative) (or Vouchers(root) of a batch, with the voucher's proof) with the lane's payer ${lane.lane.payer} for chain ${chainId} and ledger ${ledger}`,
        lane,
      )
    // learnt only from a payment its lane's payer signed: no one else can churn the layouts
    const text = pay[UNLEARNT]
    if (text !== undefined) learnPaymentLayout(text, pay)
    const payer = lane.lane.payer
    const wait = limited(payer)
    if (wait) return rateLimited(res, wait)

    const scope = idemKey ? `${payer.toLowerCase()}:${m.id}:${idemKey}` : undefined
    const claim = scope ? await claimKey(res, scope, inputHash) : noClaim
    if (!claim) return
    try {
      await charge(req, res, m, input, inputHash, scope, started, lane, cumulative, assetId, {
        signature: pay.payload.signature,
        proof: pay.payload.proof ?? [],
      })
    } finally {
      claim()
    }
  }

  const charge = async (
    req: Request,
    res: Response,
    m: ModelDefinition,
    input: unknown,
    inputHash: Hex,
    scope: string | undefined,
    started: number,
    lane: ProviderLane,
    cumulative: bigint,
    assetId: bigint,
    signed: SignedVoucher,
  ) => {
    if (cumulative <= lane.claimed)
      return paymentRequired(
        req,
        res,
        m,
        assetId,
        'voucher_stale',
        `the voucher for ${cumulative} is not above the ${lane.claimed} already claimed on lane ${lane.lane.laneId}`,
        'sign a voucher for at least lane.required',
        lane,
      )
    // amounts below the floor can never pay (checked below): only those at or above it are remembered
    const spent = () => cumulative >= spendFloor(lane) && lane.used.has(cumulative)
    const replayed = () =>
      paymentRequired(
        req,
        res,
        m,
        assetId,
        'voucher_replayed',
        `the voucher for ${cumulative} on lane ${lane.lane.laneId} already paid for a call; a voucher pays once`,
        'sign a new voucher for at least lane.required',
        lane,
      )
    if (spent()) return replayed()
    if (cumulative > lane.cap || lane.charged + lane.inflight + lane.price > lane.cap) {
      await (book as LaneBook).refreshIfStale(lane)
      // the same voucher may have been accepted by another request meanwhile
      if (spent()) return replayed()
    }
    // a voucher above the cap is worth nothing on-chain: the calls it would cover could never be redeemed
    if (cumulative > lane.cap)
      return paymentRequired(
        req,
        res,
        m,
        assetId,
        'lane_exhausted',
        `the voucher for ${cumulative} is above the cap of ${lane.cap} on lane ${lane.lane.laneId}, so it cannot be redeemed`,
        'add cap with topUpLicense(), or sign a voucher within the cap',
        lane,
      )
    const need = lane.charged + lane.inflight + lane.price
    if (need > lane.cap)
      return paymentRequired(
        req,
        res,
        m,
        assetId,
        'lane_exhausted',
        `lane ${lane.lane.laneId} has a cap of ${lane.cap}; ${lane.charged} is charged and ${lane.inflight} running, so a call of ${lane.price} does not fit`,
        'add cap with topUpLicense(), or open a new lane',
        lane,
      )
    // a voucher covers at least what is charged plus this call; with the calls in flight, the highest
    // voucher held must cover them all (vouchers of concurrent calls may arrive in any order)
    if (
      cumulative < lane.charged + lane.price ||
      (cumulative > lane.highest ? cumulative : lane.highest) < need
    )
      return paymentRequired(
        req,
        res,
        m,
        assetId,
        'voucher_too_small',
        `the voucher for ${cumulative} does not cover this call: the lane has ${lane.charged} charged and ${lane.inflight} running, and a call costs ${lane.price}`,
        'sign a voucher for at least lane.required (it already counts calls in flight)',
        lane,
      )
    lane.inflight += lane.price
    lane.used.add(cumulative)
    if (cumulative > lane.highest) lane.highest = cumulative
    lane.held.set(cumulative, signed)
    await run(res, m, input, inputHash, scope, started, {
      lane,
      cumulative,
      assetId,
      batched: signed.proof.length > 0,
    })
  }

  /**
   * Takes an idempotency key for this request: answers from the cache when the key already succeeded
   * (and returns undefined), waits while another request holds it. The returned function releases it.
   */
  const claimKey = async (
    res: Response,
    scope: string,
    inputHash: Hex,
  ): Promise<(() => void) | undefined> => {
    for (;;) {
      const waiting = pending.get(scope)
      if (waiting) {
        await waiting
        continue
      }
      const known = recall(scope)
      if (known) {
        if (known.fingerprint !== inputHash) {
          fail(
            res,
            422,
            'idempotency_key_reused',
            'this Idempotency-Key was already used with a different input; use a new key for a new call',
          )
          return undefined
        }
        counters.replayed++
        res.writeHead(known.status, { ...known.headers, 'idempotent-replayed': 'true' })
        res.end(known.body)
        return undefined
      }
      break
    }
    // no await between the checks above and this: concurrent duplicates queue behind this request
    let release: () => void = () => undefined
    pending.set(
      scope,
      new Promise<void>((r) => {
        release = r
      }),
    )
    return () => {
      pending.delete(scope)
      release()
    }
  }

  /**
   * The `PAYMENT-RESPONSE` header: base64 of exactly `JSON.stringify` of the {@link LanePaymentResponse},
   * from a per-lane template (network, payer, provider, lane, asset, model and version never change on a
   * lane) filled with this call's fields, all hex or decimal, which JSON writes as they are.
   */
  const encodeResponse = (l: ProviderLane, m: ModelDefinition, r: CallReceipt, signed: SignedCallReceipt) => {
    let t = responseTemplates.get(l)
    if (t?.model !== m) {
      const slot = (name: string) => `\u0000${name}\u0000`
      // the response with a marker in each per-call field, through the same builder as the fallback
      const slotted = {
        ...r,
        inputHash: slot('i'),
        outputHash: slot('o'),
        amount: slot('a'),
        cumulative: slot('c'),
        voucher: slot('v'),
      } as unknown as CallReceipt
      const response = wireResponse(l, slotted, { signature: slot('s') as Hex, proof: slot('p') as never })
      // JSON writes the NUL of each slot as \u0000, which ids, versions and addresses never contain; the
      // proof's slot takes its quotes with it, since the proof is a list
      t = { model: m, parts: JSON.stringify(response).split(/\\u0000[ioacvs]\\u0000|"\\u0000p\\u0000"/) }
      responseTemplates.set(l, t)
    }
    const p = t.parts
    if (p.length !== 8) return encodeHeader(wireResponse(l, r, signed))
    const proof = signed.proof.length ? `["${signed.proof.join('","')}"]` : '[]'
    const text = `${p[0]}${r.inputHash}${p[1]}${r.outputHash}${p[2]}${r.amount}${p[3]}${r.cumulative}${p[4]}${r.voucher}${p[5]}${signed.signature}${p[6]}${proof}${p[7]}`
    return base64Utf8(text)
  }
  const wireResponse = (l: ProviderLane, r: CallReceipt, signed: SignedCallReceipt): LanePaymentResponse => ({
    x402Version: X402_VERSION,
    scheme: LANE_SCHEME,
    success: true,
    network,
    payer: l.lane.payer,
    provider: (client as TributaryClient).account.address,
    receipt: {
      laneId: r.laneId,
      assetId: r.assetId.toString(),
      model: r.model,
      version: r.version,
      inputHash: r.inputHash,
      outputHash: r.outputHash,
      amount: r.amount.toString(),
      cumulative: r.cumulative.toString(),
      voucher: r.voucher.toString(),
    },
    signature: signed.signature,
    proof: signed.proof,
  })
  const responseTemplates = new WeakMap<ProviderLane, { model: ModelDefinition; parts: string[] }>()

  const run = async (
    res: Response,
    m: ModelDefinition,
    input: unknown,
    inputHash: Hex,
    scope: string | undefined,
    started: number,
    payment: { lane: ProviderLane; cumulative: bigint; assetId: bigint; batched: boolean } | undefined,
  ) => {
    const ac = new AbortController()
    const onClose = () => {
      if (!res.writableEnded) ac.abort(new Error('the client closed the connection'))
    }
    res.once('close', onClose)
    const h = health.get(m.id)
    try {
      let output: unknown
      let body: string
      try {
        output = await m.handler(input, {
          signal: ac.signal,
          ...(options.timeoutMs !== undefined ? { timeoutMs: Math.min(options.timeoutMs, m.timeoutMs) } : {}),
        })
        body = canonicalJson(output)
      } catch (err) {
        if (payment) (book as LaneBook).release(payment.lane, payment.cumulative)
        counters.failed++
        if (h && !(err instanceof InvalidModelInputError) && !(err instanceof ModelAbortedError)) {
          h.consecutiveFailures++
          h.lastError = err instanceof BaseError ? err.shortMessage : String(err)
          if (h.consecutiveFailures >= 3) h.status = 'failing'
        }
        return failedCall(res, m, err, payment?.lane)
      }
      if (h) {
        h.consecutiveFailures = 0
        h.status = 'ready'
      }
      const buf = Buffer.from(body, 'utf8')
      const headers: Record<string, string> = { 'content-type': JSON_TYPE }
      if (payment) {
        const l = payment.lane
        ;(book as LaneBook).charge(l)
        charged += l.price
        counters.paid++
        if (payment.batched) batchedVouchers++
        const receipt: CallReceipt = {
          laneId: l.lane.laneId,
          assetId: payment.assetId,
          model: m.id,
          version: m.version,
          inputHash,
          outputHash: keccak256Hex(buf),
          amount: l.price,
          cumulative: l.charged,
          voucher: payment.cumulative,
        }
        let signed: SignedCallReceipt
        try {
          signed = await (receipts as CallReceiptSigner).sign(receipt)
        } catch (err) {
          // no receipt, no answer: the call is not charged, and its voucher may be sent again
          ;(book as LaneBook).uncharge(l, payment.cumulative)
          charged -= l.price
          counters.paid--
          if (payment.batched) batchedVouchers--
          counters.failed++
          onError(err)
          return fail(
            res,
            500,
            'receipt_unsigned',
            'the provider could not sign the receipt; the call was not charged, retry it',
            { charged: false, lane: (book as LaneBook).status(l) },
          )
        }
        ;(book as LaneBook).signed(l)
        headers[PAYMENT_RESPONSE_HEADER] = encodeResponse(l, m, receipt, signed)
      } else {
        counters.free++
      }
      headers['server-timing'] = `model;dur=${(performance.now() - started).toFixed(2)}`
      if (scope) remember(scope, { fingerprint: inputHash, status: 200, body: buf, headers, at: Date.now() })
      if (!res.writableEnded && !res.destroyed) {
        try {
          res.writeHead(200, headers)
          res.end(buf)
        } catch (err) {
          // the call ran (and, when paid, was charged and its receipt signed): say so, and how to get the answer
          try {
            if (res.headersSent) res.destroy()
            else {
              // what writeHead set before it threw must not reach the error (the receipt above all)
              for (const name of Object.keys(headers)) res.removeHeader(name)
              const again = scope
                ? `send it again with the same Idempotency-Key and input within ${idemTtlMs / 1000} s (sooner when many calls fill the provider's cache of answers) to receive that answer without running${payment ? ' or charging' : ''} it again`
                : payment
                  ? 'the call had no Idempotency-Key, so sending it again runs and charges it again'
                  : 'send it again'
              fail(
                res,
                500,
                'answer_unsent',
                `the provider failed to send the answer to a call it ran${payment ? ' and charged' : ''}; ${again}`,
                payment
                  ? { charged: true, lane: (book as LaneBook).status(payment.lane) }
                  : { charged: false },
              )
            }
          } catch {
            res.destroy()
          }
          try {
            onError(err)
          } catch {
            // a reporting callback that throws changes nothing about the answer
          }
        }
      }
    } finally {
      res.off('close', onClose)
    }
  }

  const failedCall = (res: Response, m: ModelDefinition, err: unknown, lane?: ProviderLane) => {
    const extra = lane ? { charged: false, lane: (book as LaneBook).status(lane) } : { charged: false }
    if (err instanceof InvalidModelInputError) return invalidInput(res, m.id, err.issues, extra)
    if (err instanceof ModelTimeoutError)
      return fail(res, 504, 'model_timeout', `${err.shortMessage}; the call was not charged`, extra)
    if (err instanceof ModelAbortedError)
      return fail(res, 499, 'aborted', 'the call was aborted; it was not charged', extra)
    if (err instanceof InvalidModelOutputError)
      return fail(
        res,
        502,
        'invalid_model_output',
        'the model produced output that breaks its own schema; the call was not charged',
        {
          ...extra,
          issues: plainIssues(err.issues),
        },
      )
    if (err instanceof ModelNotRunnableError) return fail(res, 404, 'unknown_model', err.shortMessage, extra)
    const cause = err instanceof BaseError ? (err.details ?? err.shortMessage) : String(err)
    return fail(res, 500, 'model_failed', `model "${m.id}" failed; the call was not charged`, {
      ...extra,
      details: cause.slice(0, 300),
    })
  }

  const router = express.Router() as TributaryRouter

  // every call takes this path: matched once here, not through each route's path and param handling
  router.use((req, res, next) => {
    const match = req.method === 'POST' ? INVOKE_PATH.exec(req.url) : null
    const publisher = match ? decodeSegment(match[1] as string) : undefined
    const name = match ? decodeSegment(match[2] as string) : undefined
    if (publisher === undefined || name === undefined) return next()
    invoke(req, res, `${publisher}/${name}`).catch((err) => {
      onError(err)
      if (!res.headersSent)
        fail(res, 500, 'internal_error', 'the provider failed to handle the call; it was not charged')
    })
  })

  router.get(CARDS_PATH, (req, res) => {
    send(res, 200, { cards: [...byId.values()].map((m) => cardOf(m, req)) })
  })
  router.get(`${CARDS_PATH}/:publisher/:name`, (req, res) => {
    const id = `${req.params.publisher}/${String(req.params.name).replace(/\.json$/, '')}`
    const m = byId.get(id)
    if (!m) return fail(res, 404, 'unknown_model', `no card for "${id}" here; GET ${CARDS_PATH} lists them`)
    send(res, 200, cardOf(m, req))
  })
  router.get('/health', (_req, res) => {
    const hl = controls.health()
    send(res, hl.ok ? 200 : 503, hl.body)
  })
  router.post('/models/:publisher/:name/invoke', (req, res) => {
    invoke(req, res, `${req.params.publisher}/${req.params.name}`).catch((err) => {
      onError(err)
      if (!res.headersSent)
        fail(res, 500, 'internal_error', 'the provider failed to handle the call; it was not charged')
    })
  })
  router.all('/models/:publisher/:name/invoke', (_req, res) => {
    fail(res, 405, 'method_not_allowed', 'invoke a model with POST and a JSON body')
  })

  const controls: ProviderControls = {
    ready,
    get stats(): ProviderStats {
      let unredeemed = 0n
      if (book) unredeemed = book.exposure()
      return {
        calls: { ...counters },
        charged,
        redeemed: book?.stats.redeemed ?? 0n,
        redemptions: book?.stats.redemptions ?? 0,
        redeemErrors: book?.stats.redeemErrors ?? 0,
        unredeemed,
        lanes: book?.lanes.size ?? 0,
        receiptSignatures: receipts?.stats.signatures ?? 0,
        batchedVouchers,
      }
    },
    health() {
      const list = [...health.values()]
      const synced = book ? book.synced() && !chainError : true
      const warming = list.some((x) => x.status === 'warming')
      const failing = list.some((x) => x.status === 'failing')
      const status = warming ? 'starting' : !synced ? 'degraded' : failing ? 'failing' : 'ok'
      const head = book?.head()
      return {
        ok: status === 'ok',
        body: {
          status,
          payment: paid ? 'required' : 'off',
          chain: book
            ? {
                synced,
                chainId,
                ledger,
                blockNumber: head ? head.blockNumber.toString() : null,
                chainTime: Number(book.chainNow()),
              }
            : null,
          models: list,
        },
      }
    },
    async sync() {
      await ready
      await book?.sync()
    },
    async redeem() {
      await ready
      await book?.maybeRedeem(true)
    },
    lane(laneId) {
      const l = book?.lanes.get(laneId.toLowerCase())
      return l && book ? book.status(l) : undefined
    },
    setBaseUrl(url) {
      baseUrl = url.replace(/\/$/, '')
    },
    setAssetId(modelId, assetId) {
      assetIds.set(modelId, assetId)
    },
    async close(o = {}) {
      await ready.catch(() => undefined)
      if (book && o.redeem !== false) await book.maybeRedeem(true).catch(onError)
      await book?.stop()
    },
  }
  Object.defineProperty(router, 'provider', { value: controls, enumerable: true })
  return router
}

// POST /models/<publisher>/<name>/invoke as Express matches it: case-insensitive, an optional trailing
// slash, any query string
const INVOKE_PATH = /^\/models\/([^/?#]+)\/([^/?#]+)\/invoke\/?(?:\?|$)/i

/** A path segment as Express decodes a parameter; undefined when it is not valid percent-encoding. */
function decodeSegment(segment: string): string | undefined {
  if (!segment.includes('%')) return segment
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

/** A payment read from its header, with its text when it was parsed in full (its layout is learnt once it pays). */
type ParsedPayment = LanePaymentPayload & { readonly [UNLEARNT]?: string }
const UNLEARNT = Symbol('payment text to learn')

/** @internal A PAYMENT-SIGNATURE header's payment, or why it is not one (exported for `bench/paymentParts.ts`). */
export function parsePayment(header: string): ParsedPayment | string {
  if (header.length > MAX_HEADER)
    return `the PAYMENT-SIGNATURE header is longer than ${MAX_HEADER} characters`
  const text = decodeHeaderText(header)
  if (text === undefined) return 'the PAYMENT-SIGNATURE header is not base64 JSON'
  const known = readKnownPayment(text)
  if (known) return known
  let v: Partial<LanePaymentPayload> | undefined
  try {
    v = JSON.parse(text)
  } catch {
    v = undefined
  }
  if (!v || typeof v !== 'object') return 'the PAYMENT-SIGNATURE header is not base64 JSON'
  if (v.scheme !== LANE_SCHEME)
    return `unsupported payment scheme ${JSON.stringify(v.scheme)}; use "${LANE_SCHEME}"`
  const p = v.payload
  if (
    !p ||
    typeof v.network !== 'string' ||
    typeof p.ledger !== 'string' ||
    !ADDRESS.test(p.ledger) ||
    typeof p.laneId !== 'string' ||
    !HEX_32.test(p.laneId) ||
    typeof p.cumulative !== 'string' ||
    !DECIMAL_30.test(p.cumulative) ||
    typeof p.signature !== 'string' ||
    !HEX_65.test(p.signature) ||
    !p.lane ||
    typeof p.lane.payer !== 'string' ||
    !ADDRESS.test(p.lane.payer) ||
    typeof p.lane.token !== 'string' ||
    !ADDRESS.test(p.lane.token) ||
    typeof p.lane.modelId !== 'string' ||
    !DECIMAL_20.test(p.lane.modelId) ||
    typeof p.lane.termsVersion !== 'number' ||
    !Number.isInteger(p.lane.termsVersion) ||
    typeof p.lane.seq !== 'string' ||
    !DECIMAL_20.test(p.lane.seq) ||
    typeof p.lane.lineageHash !== 'string' ||
    !HEX_32.test(p.lane.lineageHash)
  )
    return 'the payment is malformed: payload needs ledger, laneId, cumulative (decimal string), a 65-byte signature and the lane key (payer, token, modelId, termsVersion, seq, lineageHash)'
  if (
    p.proof !== undefined &&
    (!Array.isArray(p.proof) ||
      p.proof.length > MAX_PROOF ||
      !p.proof.every((h) => typeof h === 'string' && HEX_32.test(h)))
  )
    return `the payment's proof is malformed: a list of at most ${MAX_PROOF} 32-byte hex hashes, from the voucher to the root its batch signature covers`
  return Object.assign(v as LanePaymentPayload, { [UNLEARNT]: text })
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    req.on('data', (c: Buffer) => {
      if (done) return
      size += c.length
      if (size > limit) {
        done = true
        req.removeAllListeners('data')
        req.resume()
        reject(Object.assign(new Error('too large'), { tooLarge: true }))
        return
      }
      chunks.push(c)
    })
    req.once('end', () => {
      if (!done) {
        done = true
        resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks))
      }
    })
    req.once('error', (e) => {
      if (!done) {
        done = true
        reject(e)
      }
    })
  })
}

function plainIssues(issues: readonly ValidationIssue[]) {
  return issues.map((i) => ({
    path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
    message: i.message,
    ...(i.code ? { code: i.code } : {}),
  }))
}

function invalidInput(
  res: ServerResponse,
  modelId: string,
  issues: readonly ValidationIssue[],
  extra: Record<string, unknown> = {},
) {
  return fail(
    res,
    400,
    'invalid_input',
    `input for model "${modelId}" does not match its input schema (see issues); nothing was charged`,
    { ...extra, issues: plainIssues(issues) },
  )
}

function tooLarge(res: ServerResponse, limit: number) {
  return fail(
    res,
    413,
    'body_too_large',
    `the body is larger than ${limit} bytes; send a smaller input`,
    {},
    {
      connection: 'close',
    },
  )
}

function rateLimited(res: ServerResponse, waitMs: number) {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000))
  return fail(
    res,
    429,
    'rate_limited',
    `too many calls from this payer; retry after ${seconds} s`,
    { retryAfterMs: waitMs },
    {
      'retry-after': String(seconds),
    },
  )
}

/** Sends a JSON error body `{ error, code, ...extra }`. */
export function fail(
  res: ServerResponse,
  status: number,
  code: string,
  error: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) {
  send(res, status, { error, code, status, ...extra }, headers)
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  if (res.headersSent) return
  const buf = Buffer.from(JSON.stringify(body), 'utf8')
  res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': String(buf.length), ...headers })
  res.end(buf)
}

import { randomUUID } from 'node:crypto'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import { type Address, getAddress, type Hex, isAddressEqual } from 'viem'
import { readContract } from '../chain/client.js'
import { modelRegistryAbi } from '../chain/generated/ModelRegistry.js'
import { canonicalJson, hashCard, parseCard } from '../market/card.js'
import type { JSONSchema, ResolvedModel } from '../market/directory.js'
import { getModel } from '../market/getModel.js'
import type { CallReceipt } from '../pay/callReceipt.js'
import { createVoucherSigner, type SignedVoucher, type VoucherSigner } from '../pay/createVoucherSigner.js'
import { keccak256Hex, whenKeccakReady } from '../pay/keccak.js'
import type { Lane } from '../pay/lane.js'
import { openLicense } from '../pay/openLicense.js'
import { topUpLicense } from '../pay/topUpLicense.js'
import { verifyCallReceipt, verifyCallReceiptNative } from '../pay/verifyCallReceipt.js'
import {
  InvalidProviderOutputError,
  ModelResolutionError,
  PaymentMismatchError,
  ProviderCallError,
  type ProviderErrorBody,
  ProviderUnreachableError,
  ReceiptVerificationError,
  SpendPolicyError,
} from './callErrors.js'
import {
  type ClientLane,
  checkModelPolicy,
  laneCapFor,
  laneKeyOf,
  ownerOf,
  reserveSpend,
  type SpendPolicy,
  type Wallet,
} from './createWallet.js'
import { type HttpResponse, httpRequest } from './httpClient.js'
import {
  base64Utf8,
  caip2,
  decodeHeader,
  encodeHeader,
  IDEMPOTENCY_KEY_HEADER,
  LANE_SCHEME,
  type LanePaymentPayload,
  type LanePaymentRequired,
  type LanePaymentResponse,
  type LaneRequirements,
  PAYMENT_RESPONSE_HEADER,
  PAYMENT_SIGNATURE_HEADER,
  X402_VERSION,
} from './laneScheme.js'

/** A model to call: as the discovery index resolves it, or by the URL of its card or its endpoint. */
export type ModelReference = ResolvedModel | { url: string }

export type CallModelParameters = {
  wallet: Wallet
  /** Extra rules for this call, checked on top of the wallet's policy. */
  policy?: SpendPolicy | undefined
  /** Names this logical call: retries with the same key are answered once and charged once (default: random). */
  idempotencyKey?: string | undefined
  /** Counts the call against `perRun` caps. */
  runId?: string | undefined
  signal?: AbortSignal | undefined
  /** Attempts after the first on a provider failure or a lost connection (default 2). */
  retries?: number | undefined
  /** Time budget of one HTTP attempt (default 60 s). */
  timeoutMs?: number | undefined
}

/** What a paid call cost and the provider's signed word for it. */
export type CallPayment = {
  laneId: Hex
  lane: Lane
  /** The price charged for this call. */
  amount: bigint
  /** Everything the provider has charged on the lane after this call: what a settlement of the lane uses. */
  cumulative: bigint
  /** The voucher amount this call was sent with. */
  voucher: bigint
  modelVersion: string
  inputHash: Hex
  outputHash: Hex
  /** The provider's signature over the root of the batch of receipts this one was signed in. */
  providerSignature: Hex
  /** The receipt's Merkle proof up to that root (empty when it was signed alone); see `verifyCallReceipt`. */
  receiptProof: Hex[]
  provider: Address
  receipt: CallReceipt
}

export type CallModelReturnType<T = unknown> = {
  output: T
  /** Undefined when the provider served the call for free (payment off). */
  payment: CallPayment | undefined
  latencyMs: number
  attempts: number
  idempotencyKey: string
  /** True when the provider answered from its idempotency cache (an earlier attempt had run). */
  replayed: boolean
}

/** What the client knows of a model before calling it. */
type Target = {
  id: string
  version: string | undefined
  assetId: bigint | undefined
  price: bigint | undefined
  endpoint: string
  outputSchema: JSONSchema | undefined
  /** For a model found by URL: checks its card against the chain once the asset id is known. */
  verifyCard?: ((assetId: bigint) => Promise<{ price: bigint; termsVersion: number }>) | undefined
}

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false })
const validators = new WeakMap<object, ValidateFunction>()
const validatorsByText = new Map<string, ValidateFunction>()
const resolvedUrls = new Map<string, Promise<Target>>()
/** Asset ids and prices learned from 402s for models found by URL (their cards checked against the chain). */
const learned = new Map<string, { assetId: bigint; price: bigint }>()
const authorizedSigners = new Map<string, Promise<boolean>>()

/**
 * Calls a model and pays for it. Answers a `402` by opening a license lane (one transaction, then reused
 * by every later call of this wallet on this model) or topping it up, when the spend policy allows;
 * sends a cumulative voucher with each call (the vouchers of calls this wallet starts on one lane in the
 * same turn of the event loop or the next share one signature, each with its Merkle proof; native fast path); retries lost connections and provider failures
 * with the same idempotency key (never charged twice); checks the provider's receipt — signed by the
 * model's on-chain owner or approved operator, for this model, version, lane, input and output — and
 * validates the output against the card's output JSON Schema. Policy refusals are raised before any
 * signature or transaction.
 *
 * @example
 * ```ts
 * const wallet = createWallet({ client: devnet.client(2), policy: { perCall: 5_000n } })
 * const { output, payment } = await callModel(model, { text: 'great product' }, { wallet })
 * payment?.amount // 2000n
 * ```
 */
export async function callModel<T = unknown>(
  model: ModelReference,
  input: unknown,
  p: CallModelParameters,
): Promise<CallModelReturnType<T>> {
  const compiling = whenKeccakReady()
  if (compiling) await compiling
  const started = performance.now()
  const { wallet } = p
  const policies = p.policy ? [wallet.policy, p.policy] : [wallet.policy]
  const body = canonicalJson(input)
  const bodyBuf = Buffer.from(body, 'utf8')
  const inputHash = keccak256Hex(bodyBuf)
  const target = await resolveTarget(model, wallet, p.signal)
  const idempotencyKey = p.idempotencyKey ?? randomUUID()
  if (target.price !== undefined)
    await checkModelPolicy(wallet, policies, { id: target.id, assetId: target.assetId, price: target.price })
  let reservation =
    target.price !== undefined ? reserveSpend(wallet, policies, target.id, target.price, p.runId) : undefined

  const retries = p.retries ?? 2
  let attempts = 0
  let failures = 0
  let payActions = 0
  let lane: ClientLane | undefined =
    target.assetId !== undefined
      ? (wallet.state.lanes.get(laneKeyOf(wallet, target.assetId)) ??
        (await cachedLane(wallet, target.assetId)))
      : undefined
  let voucher: bigint | undefined
  let sentVoucher = false
  const signatures = new Map<bigint, SignedVoucher>()
  try {
    for (;;) {
      if (p.signal?.aborted) throw p.signal.reason
      attempts++
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        accept: 'application/json',
        [IDEMPOTENCY_KEY_HEADER]: idempotencyKey,
      }
      sentVoucher = false
      if (lane) {
        if (voucher === undefined) {
          voucher = lane.signed + lane.price
          lane.signed = voucher
        }
        let signed = signatures.get(voucher)
        if (!signed) {
          // signed with the vouchers of the other calls starting in this turn or the next: one signature for all
          signed = await voucherSignerOf(wallet).sign({ laneId: lane.lane.laneId, cumulative: voucher })
          signatures.set(voucher, signed)
        }
        headers[PAYMENT_SIGNATURE_HEADER] = encodePayment(wallet, lane, voucher, signed)
        sentVoucher = true
      }
      let res: HttpResponse
      try {
        res = await httpRequest(target.endpoint, {
          method: 'POST',
          headers,
          body: bodyBuf,
          signal: p.signal,
          timeoutMs: p.timeoutMs ?? 60_000,
        })
      } catch (err) {
        if (p.signal?.aborted) throw p.signal.reason
        failures++
        if (failures > retries) throw new ProviderUnreachableError(target.endpoint, attempts, err)
        await sleep(backoff(failures), p.signal)
        continue
      }

      if (res.status === 200) {
        const output = parseJson(res.body, target.endpoint)
        const header = res.headers[PAYMENT_RESPONSE_HEADER]
        if (typeof header !== 'string') {
          if (sentVoucher)
            throw new ReceiptVerificationError(
              target.endpoint,
              'a paid call was answered without a PAYMENT-RESPONSE receipt',
            )
          reservation?.release()
          reservation = undefined
          validateOutput(target, output)
          return {
            output: output as T,
            payment: undefined,
            latencyMs: performance.now() - started,
            attempts,
            idempotencyKey,
            replayed: res.headers['idempotent-replayed'] === 'true',
          }
        }
        const replayed = res.headers['idempotent-replayed'] === 'true'
        const payment = await checkReceipt(
          wallet,
          target,
          lane as ClientLane,
          header,
          inputHash,
          res.body,
          voucher as bigint,
          replayed,
        )
        validateOutput(target, output)
        // a replay answered to a new invocation repeats a call an earlier invocation already counted
        if (!replayed || attempts > 1) reservation?.commit(payment.amount)
        else reservation?.release()
        reservation = undefined
        return {
          output: output as T,
          payment,
          latencyMs: performance.now() - started,
          attempts,
          idempotencyKey,
          replayed: res.headers['idempotent-replayed'] === 'true',
        }
      }

      const errBody = parseErrorBody(res.body)
      if (res.status === 402) {
        if (++payActions > 5)
          throw new ProviderCallError(
            target.endpoint,
            402,
            errBody,
            'the provider kept refusing payment; check the lane',
          )
        const required = errBody as unknown as LanePaymentRequired
        const req = required.accepts?.find((a) => a.scheme === LANE_SCHEME)
        if (!req)
          throw new ProviderCallError(
            target.endpoint,
            402,
            errBody,
            `the provider does not offer the ${LANE_SCHEME} scheme`,
          )
        const info = await acceptRequirements(wallet, target, req, policies)
        if (!reservation) reservation = reserveSpend(wallet, policies, target.id, info.price, p.runId)
        const code = required.code
        if (code === 'payment_required' || !lane) {
          lane = await ensureLane(wallet, target, info, policies, lane)
          voucher = undefined
          continue
        }
        if (
          code === 'unknown_lane' ||
          code === 'lane_closed' ||
          code === 'lane_expired' ||
          code === 'wrong_lane'
        ) {
          lane = await ensureLane(wallet, target, info, policies, lane, true)
          voucher = undefined
          continue
        }
        if (code === 'lane_exhausted') {
          // the provider may not have seen our last top-up yet: give it a moment rather than pay again
          const seen = required.lane ? BigInt(required.lane.cap) : lane.cap
          if (seen < lane.cap) await sleep(200, p.signal)
          else await topUp(wallet, target, lane, policies)
          continue
        }
        if (code === 'voucher_too_small' || code === 'voucher_replayed' || code === 'voucher_stale') {
          const need = required.lane ? BigInt(required.lane.required) : lane.signed + lane.price
          if (need - lane.price > lane.signed) lane.signed = need - lane.price
          voucher = undefined
          await saveLane(wallet, lane)
          continue
        }
        throw new ProviderCallError(
          target.endpoint,
          402,
          errBody,
          'the provider refused the voucher; this wallet cannot fix that by paying',
        )
      }
      if (res.status === 429) {
        failures++
        if (failures > retries + 3)
          throw new ProviderCallError(
            target.endpoint,
            429,
            errBody,
            'slow down: the provider rate-limits this payer',
          )
        const after = Number(res.headers['retry-after'] ?? 1)
        await sleep(Math.min(30_000, Math.max(0.05, Number.isFinite(after) ? after : 1) * 1000), p.signal)
        continue
      }
      if (res.status >= 500 || res.status === 499) {
        failures++
        if (failures > retries) throw new ProviderCallError(target.endpoint, res.status, errBody)
        await sleep(backoff(failures), p.signal)
        continue
      }
      throw new ProviderCallError(target.endpoint, res.status, errBody)
    }
  } finally {
    reservation?.release()
  }
}

function paymentPayload(
  wallet: Wallet,
  lane: ClientLane,
  cumulative: string,
  signature: Hex,
  proof: readonly Hex[],
): LanePaymentPayload {
  const l = lane.lane
  return {
    x402Version: X402_VERSION,
    scheme: LANE_SCHEME,
    network: caip2(wallet.client.chain.id),
    payload: {
      ledger: wallet.client.addresses.ledger,
      laneId: l.laneId,
      cumulative,
      signature,
      ...(proof.length ? { proof: [...proof] } : {}),
      lane: {
        payer: l.payer,
        token: l.token,
        modelId: l.modelId.toString(),
        termsVersion: l.termsVersion,
        seq: l.seq.toString(),
        lineageHash: l.lineageHash,
      },
    },
  }
}

const paymentTemplates = new WeakMap<ClientLane, { wallet: Wallet; parts: string[] }>()

/**
 * The payment header of a voucher on a lane: the lane's JSON is written once, then each voucher's
 * cumulative amount, signature and proof are spliced in.
 */
function encodePayment(wallet: Wallet, lane: ClientLane, cumulative: bigint, signed: SignedVoucher): string {
  let t = paymentTemplates.get(lane)
  if (t?.wallet !== wallet) {
    // JSON writes the NUL of each slot as \u0000, which addresses, hashes and numbers never contain
    const json = JSON.stringify(
      paymentPayload(wallet, lane, '\u0000c\u0000', '\u0000s\u0000' as Hex, ['\u0000p\u0000' as Hex]),
    )
    t = { wallet, parts: json.split(/\\u0000[cs]\\u0000|,"proof":\["\\u0000p\\u0000"\]/) }
    paymentTemplates.set(lane, t)
  }
  const p = t.parts
  if (p.length !== 4)
    return encodeHeader(paymentPayload(wallet, lane, cumulative.toString(), signed.signature, signed.proof))
  const proof = signed.proof.length ? `,"proof":${JSON.stringify(signed.proof)}` : ''
  return base64Utf8(`${p[0]}${cumulative}${p[1]}${signed.signature}${p[2]}${proof}${p[3]}`)
}

/** The wallet's voucher signer: the vouchers of calls starting in one turn or the next share a signature. */
function voucherSignerOf(wallet: Wallet): VoucherSigner {
  wallet.state.voucherSigner ??= createVoucherSigner({
    account: wallet.client.account,
    privateKey: wallet.client.privateKey,
    chainId: wallet.client.chain.id,
    ledger: wallet.client.addresses.ledger,
  })
  return wallet.state.voucherSigner
}

/** The 402's requirements must name this wallet's chain and ledger and the model asked for, at an acceptable price. */
async function acceptRequirements(
  wallet: Wallet,
  target: Target,
  req: LaneRequirements,
  policies: readonly SpendPolicy[],
): Promise<{ assetId: bigint; price: bigint; termsVersion: number }> {
  const c = wallet.client
  if (req.chainId !== c.chain.id || req.network !== caip2(c.chain.id))
    throw new PaymentMismatchError(
      target.endpoint,
      `it is paid on chain ${req.chainId}, this wallet is on chain ${c.chain.id}`,
    )
  if (!isAddressEqual(req.ledger, c.addresses.ledger))
    throw new PaymentMismatchError(
      target.endpoint,
      `it is paid on ledger ${req.ledger}, this wallet uses ${c.addresses.ledger}`,
    )
  const assetId = BigInt(req.assetId)
  if (target.assetId !== undefined && target.assetId !== assetId)
    throw new PaymentMismatchError(
      target.endpoint,
      `it asks payment for asset ${assetId}, the model called is asset ${target.assetId}`,
    )
  if (req.model !== target.id)
    throw new PaymentMismatchError(target.endpoint, `it serves "${req.model}" there, not "${target.id}"`)
  const price = BigInt(req.amount)
  if (target.price !== undefined && price > target.price)
    throw new SpendPolicyError(
      'priceChanged',
      target.id,
      `"${target.id}" now costs ${price} per call, not the ${target.price} it was quoted at`,
      'resolve the model again and accept the new price',
    )
  if (target.assetId === undefined) {
    const onchain = target.verifyCard
      ? await target.verifyCard(assetId)
      : { price, termsVersion: req.termsVersion }
    if (onchain.price !== price)
      throw new PaymentMismatchError(
        target.endpoint,
        `it quotes ${price} per call, the registry says ${onchain.price}`,
      )
    target.assetId = assetId
    target.price = price
    learned.set(target.endpoint, { assetId, price })
    await checkModelPolicy(wallet, policies, { id: target.id, assetId, price })
  }
  return { assetId, price, termsVersion: req.termsVersion }
}

async function cachedLane(wallet: Wallet, assetId: bigint): Promise<ClientLane | undefined> {
  const key = laneKeyOf(wallet, assetId)
  const mem = wallet.state.lanes.get(key)
  if (mem) return mem
  const stored = await wallet.state.store.get(key)
  if (!stored) return undefined
  const lane: ClientLane = { ...stored, key }
  wallet.state.lanes.set(key, lane)
  return lane
}

async function saveLane(wallet: Wallet, lane: ClientLane) {
  const { key: _k, ...stored } = lane
  await wallet.state.store.set(lane.key, stored)
}

/**
 * The wallet's lane on the model: the cached one unless `replace`, else one opened now — once for all
 * concurrent callers (single flight per payer and model).
 */
async function ensureLane(
  wallet: Wallet,
  target: Target,
  info: { assetId: bigint; price: bigint },
  policies: readonly SpendPolicy[],
  current: ClientLane | undefined,
  replace = false,
): Promise<ClientLane> {
  const key = laneKeyOf(wallet, info.assetId)
  const { state } = wallet
  const known = state.lanes.get(key)
  if (known && (!replace || (current && known.lane.laneId !== current.lane.laneId))) return known
  let opening = state.opening.get(key)
  if (!opening) {
    opening = (async () => {
      const cap = laneCapFor(wallet, policies, target.id, info.price)
      const opened = await openLicense(wallet.client, {
        modelId: info.assetId,
        cap,
        ttlSeconds: wallet.laneDefaults.ttlSeconds,
        maxPricePerCall: info.price,
      })
      const lane: ClientLane = {
        lane: opened.lane,
        price: info.price,
        cap: opened.cap,
        expiresAt: opened.expiresAt,
        signed: 0n,
        endpoint: target.endpoint,
        key,
      }
      state.lanes.set(key, lane)
      await saveLane(wallet, lane)
      return lane
    })().finally(() => state.opening.delete(key))
    state.opening.set(key, opening)
  }
  return (await opening) as ClientLane
}

async function topUp(wallet: Wallet, target: Target, lane: ClientLane, policies: readonly SpendPolicy[]) {
  let add = laneCapFor(wallet, policies, target.id, lane.price)
  for (const pol of policies)
    if (pol.maxLaneCap !== undefined && lane.cap + add > pol.maxLaneCap) {
      add = pol.maxLaneCap - lane.cap
      if (add < lane.price)
        throw new SpendPolicyError(
          'maxLaneCap',
          target.id,
          `the lane on "${target.id}" already locks ${lane.cap}; topping it up would pass maxLaneCap ${pol.maxLaneCap}`,
          'raise maxLaneCap, or settle and open a new lane',
        )
    }
  const key = `topup:${lane.lane.laneId}:${lane.cap}`
  let pending = wallet.state.opening.get(key)
  if (!pending) {
    pending = (async () => {
      await topUpLicense(wallet.client, { lane: lane.lane, addCap: add })
      lane.cap += add
      await saveLane(wallet, lane)
      return lane
    })().finally(() => wallet.state.opening.delete(key))
    wallet.state.opening.set(key, pending)
  }
  await pending
}

async function checkReceipt(
  wallet: Wallet,
  target: Target,
  lane: ClientLane,
  header: string,
  inputHash: Hex,
  body: Buffer,
  voucher: bigint,
  replayed: boolean,
): Promise<CallPayment> {
  const r = decodeHeader(header) as LanePaymentResponse | undefined
  const bad = (why: string) => new ReceiptVerificationError(target.endpoint, why)
  if (
    !r ||
    r.scheme !== LANE_SCHEME ||
    !r.receipt ||
    typeof r.signature !== 'string' ||
    !Array.isArray(r.proof)
  )
    throw bad('the PAYMENT-RESPONSE header is malformed')
  const w = r.receipt
  let receipt: CallReceipt
  try {
    receipt = {
      laneId: w.laneId,
      assetId: BigInt(w.assetId),
      model: w.model,
      version: w.version,
      inputHash: w.inputHash,
      outputHash: w.outputHash,
      amount: BigInt(w.amount),
      cumulative: BigInt(w.cumulative),
      voucher: BigInt(w.voucher),
    }
  } catch {
    throw bad('the receipt has malformed amounts')
  }
  if (receipt.laneId.toLowerCase() !== lane.lane.laneId.toLowerCase())
    throw bad(`it names lane ${receipt.laneId}, the call paid on ${lane.lane.laneId}`)
  if (receipt.assetId !== lane.lane.modelId)
    throw bad(`it names asset ${receipt.assetId}, the lane pays asset ${lane.lane.modelId}`)
  if (receipt.model !== target.id) throw bad(`it names model "${receipt.model}", not "${target.id}"`)
  if (target.version !== undefined && receipt.version !== target.version)
    throw bad(`it names version ${receipt.version}, the call was for ${target.version}`)
  if (receipt.inputHash !== inputHash) throw bad('its input hash is not the hash of the input sent')
  if (receipt.outputHash !== keccak256Hex(body))
    throw bad('its output hash is not the hash of the output received')
  if (receipt.amount !== lane.price)
    throw bad(`it charges ${receipt.amount}, the lane's price is ${lane.price}`)
  // a replay carries the receipt of the first attempt, paid with that attempt's voucher
  if (!replayed && receipt.voucher !== voucher)
    throw bad(`it names voucher ${receipt.voucher}, the call sent ${voucher}`)
  if (receipt.voucher > lane.signed)
    throw bad(`it names voucher ${receipt.voucher}, more than was ever signed`)
  if (receipt.cumulative > lane.signed)
    throw bad(`it claims ${receipt.cumulative} charged on the lane, more than the ${lane.signed} signed`)
  const c = wallet.client
  const check = {
    chainId: c.chain.id,
    ledger: c.addresses.ledger,
    receipt,
    signature: r.signature,
    proof: r.proof,
  }
  const v = verifyCallReceiptNative(check) ?? (await verifyCallReceipt(check))
  if (!v.valid) throw bad(v.message)
  if (!(await speaksFor(wallet, receipt.assetId, v.signer)))
    throw bad(
      `it is signed by ${v.signer}, who is neither the owner nor an approved operator of asset ${receipt.assetId}`,
    )
  return {
    laneId: lane.lane.laneId,
    lane: lane.lane,
    amount: receipt.amount,
    cumulative: receipt.cumulative,
    voucher: receipt.voucher,
    modelVersion: receipt.version,
    inputHash,
    outputHash: receipt.outputHash,
    providerSignature: r.signature,
    receiptProof: r.proof,
    provider: checksummed(v.signer),
    receipt,
  }
}

const checksums = new Map<string, Address>()
/** viem's `getAddress`, remembered: a client hears from few providers, on every call. */
function checksummed(a: Address): Address {
  let c = checksums.get(a)
  if (!c) {
    c = getAddress(a)
    if (checksums.size >= 1_000) checksums.clear()
    checksums.set(a, c)
  }
  return c
}

/** Whether `signer` owns the asset or is approved for it (on-chain, cached per pair). */
function speaksFor(wallet: Wallet, assetId: bigint, signer: Address): Promise<boolean> {
  const key = `${wallet.client.addresses.registry}:${assetId}:${signer.toLowerCase()}`
  let p = authorizedSigners.get(key)
  if (!p) {
    p = (async () => {
      const owner = await ownerOf(wallet, assetId)
      if (isAddressEqual(owner, signer)) return true
      const registry = wallet.client.addresses.registry
      const [approved, all] = await Promise.all([
        readContract<Address>(wallet.client, {
          address: registry,
          abi: modelRegistryAbi,
          functionName: 'getApproved',
          args: [assetId],
        }),
        readContract<boolean>(wallet.client, {
          address: registry,
          abi: modelRegistryAbi,
          functionName: 'isApprovedForAll',
          args: [owner, signer],
        }),
      ])
      return isAddressEqual(approved, signer) || all
    })()
    p.catch(() => authorizedSigners.delete(key))
    authorizedSigners.set(key, p)
  }
  return p
}

function validatorFor(schema: JSONSchema): ValidateFunction {
  const obj = typeof schema === 'object' && schema !== null ? schema : undefined
  const hit = obj ? validators.get(obj) : undefined
  if (hit) return hit
  const text = JSON.stringify(schema)
  let v = validatorsByText.get(text)
  if (!v) {
    v = ajv.compile(schema as object)
    validatorsByText.set(text, v)
  }
  if (obj) validators.set(obj, v)
  return v
}

function validateOutput(target: Target, output: unknown) {
  const schema = target.outputSchema
  if (schema === undefined || schema === true) return
  const validate = validatorFor(schema)
  if (!validate(output)) throw new InvalidProviderOutputError(target.id, validate.errors ?? [])
}

async function resolveTarget(model: ModelReference, wallet: Wallet, signal?: AbortSignal): Promise<Target> {
  if ('assetId' in model) {
    if (!model.endpoint)
      throw new ModelResolutionError(`model "${model.id}" has no endpoint to call`, {
        metaMessages: ['- Resolve it through the discovery index, which reads the endpoint from its card.'],
      })
    return {
      id: model.id,
      version: model.version,
      assetId: model.assetId,
      price: model.pricePerCall,
      endpoint: model.endpoint,
      outputSchema: model.outputSchema,
    }
  }
  let p = resolvedUrls.get(model.url)
  if (!p) {
    p = resolveUrl(model.url, wallet, signal)
    p.catch(() => resolvedUrls.delete(model.url))
    resolvedUrls.set(model.url, p)
  }
  // each call gets its own copy: a 402 fills in the asset id and price, remembered for later calls
  const target = { ...(await p) }
  const known = learned.get(target.endpoint)
  if (known) {
    target.assetId = known.assetId
    target.price = known.price
  }
  return target
}

/**
 * Fetches the card behind a URL (a card URL, or an endpoint whose card sits at the provider's well-known
 * path), with a size limit and a timeout. When the card names its asset (through a 402 later), the
 * card's hash is checked against the one registered on-chain.
 */
async function resolveUrl(url: string, wallet: Wallet, signal?: AbortSignal): Promise<Target> {
  const m = /^(.*)\/models\/([^/]+\/[^/]+)\/invoke\/?$/.exec(url)
  const cardUrl = m ? `${m[1]}/.well-known/tributary/cards/${m[2]}.json` : url
  let res: HttpResponse
  try {
    res = await httpRequest(cardUrl, {
      method: 'GET',
      signal,
      maxBytes: 256 * 1024,
      timeoutMs: 10_000,
      headers: { accept: 'application/json' },
    })
  } catch (err) {
    throw new ModelResolutionError(`cannot fetch the card at ${cardUrl}`, { cause: err })
  }
  if (res.status !== 200) throw new ModelResolutionError(`the card at ${cardUrl} answered ${res.status}`)
  let card: ReturnType<typeof parseCard>
  try {
    card = parseCard(JSON.parse(res.body.toString('utf8')), { source: cardUrl })
  } catch (err) {
    throw new ModelResolutionError(`the card at ${cardUrl} is not a valid tributary card`, { cause: err })
  }
  if (!card.endpoint) throw new ModelResolutionError(`the card at ${cardUrl} has no endpoint`)
  const target: Target = {
    id: card.id,
    version: card.version,
    assetId: undefined,
    price: undefined,
    endpoint: card.endpoint,
    outputSchema: card.output,
  }
  // the asset id is only known from the provider's 402; the card is checked against the chain then
  target.verifyCard = async (assetId: bigint) => {
    const onchain = await getModel(wallet.client, { assetId })
    if (onchain.cardHash !== hashCard(card))
      throw new ModelResolutionError(
        `the card at ${cardUrl} does not hash to the card registered for asset ${assetId} (${onchain.cardHash})`,
        { metaMessages: ['- The provider serves a card other than the one published; do not pay it.'] },
      )
    return { price: onchain.terms.pricePerCall, termsVersion: onchain.termsVersion }
  }
  return target
}

function parseJson(body: Buffer, url: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'))
  } catch {
    throw new ReceiptVerificationError(url, 'the output is not JSON')
  }
}

function parseErrorBody(body: Buffer): ProviderErrorBody {
  try {
    const v = JSON.parse(body.toString('utf8')) as unknown
    return typeof v === 'object' && v !== null ? (v as ProviderErrorBody) : { error: String(v) }
  } catch {
    return { error: body.toString('utf8').slice(0, 200), code: 'not_json' }
  }
}

const backoff = (n: number) => Math.min(2_000, 50 * 2 ** (n - 1)) * (0.5 + Math.random() / 2)

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(t)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

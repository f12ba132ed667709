import { ServerResponse } from 'node:http'
import { type Address, type Hex, keccak256, toHex } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { readContract, type TributaryClient } from '../../src/chain/client.js'
import { ledgerAbi } from '../../src/chain/generated/Ledger.js'
import { type Devnet, startDevnet } from '../../src/chain/startDevnet.js'
import { publishModel } from '../../src/market/publishModel.js'
import type { ModelDefinition } from '../../src/models/defineModel.js'
import { decodeHeaderText, encodeHeader, type LanePaymentPayload } from '../../src/models/laneScheme.js'
import { readKnownPayment } from '../../src/models/paymentLayout.js'
import { type ServeModelsReturnType, serveModels } from '../../src/models/serveModels.js'
import { getLane } from '../../src/pay/getLane.js'
import type { Lane } from '../../src/pay/lane.js'
import { openLicense } from '../../src/pay/openLicense.js'
import { signVoucher } from '../../src/pay/signVoucher.js'
import { signVouchers } from '../../src/pay/signVouchers.js'
import { reverseModel, shoutModel } from './fixtures/models.js'

let devnet: Devnet
let provider: TributaryClient
let payer: TributaryClient
let other: TributaryClient
let server: ServeModelsReturnType
let token: Address
let shout: ModelDefinition
let reverse: ModelDefinition
const assetIds: Record<string, bigint> = {}
let lane: Lane
let reverseLane: Lane
let otherLane: Lane

const price = 1_000n

async function voucher(o: {
  lane: Lane
  cumulative: bigint
  signer?: TributaryClient
  chainId?: number
  network?: string
  ledger?: Address
  /** A signature (and proof) made elsewhere, e.g. over a batch. */
  signed?: { signature: Hex; proof?: unknown }
}): Promise<string> {
  const signer = o.signer ?? payer
  const signature =
    o.signed?.signature ??
    (await signVoucher({
      account: signer.account,
      privateKey: signer.privateKey,
      chainId: o.chainId ?? devnet.chainId,
      ledger: o.ledger ?? devnet.addresses.ledger,
      laneId: o.lane.laneId,
      cumulative: o.cumulative,
    }))
  const payload: LanePaymentPayload = {
    x402Version: 2,
    scheme: 'tributary-lane',
    network: o.network ?? `eip155:${devnet.chainId}`,
    payload: {
      ledger: devnet.addresses.ledger,
      laneId: o.lane.laneId,
      cumulative: o.cumulative.toString(),
      signature,
      ...(o.signed?.proof === undefined ? {} : { proof: o.signed.proof as Hex[] }),
      lane: {
        payer: o.lane.payer,
        token: o.lane.token,
        modelId: o.lane.modelId.toString(),
        termsVersion: o.lane.termsVersion,
        seq: o.lane.seq.toString(),
        lineageHash: o.lane.lineageHash,
      },
    },
  }
  return encodeHeader(payload)
}

async function post(
  model: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(server.endpoint(model), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  })
  const text = await res.text()
  return { status: res.status, body: JSON.parse(text) as Record<string, unknown>, headers: res.headers }
}

/** Every balance a bad request could move: escrows, lanes, credits, and what the provider counts. */
async function money() {
  const read = <T>(functionName: string, args: unknown[]) =>
    readContract<T>(provider, { address: devnet.addresses.ledger, abi: ledgerAbi, functionName, args })
  return {
    escrow: [
      await read<bigint>('escrowOf', [token, payer.account.address]),
      await read<bigint>('escrowOf', [token, other.account.address]),
    ],
    lanes: await Promise.all(
      [lane, reverseLane, otherLane].map(
        async (l) => (await getLane(provider, { laneId: l.laneId })).claimed,
      ),
    ),
    credits: [
      await read<bigint>('creditOf', [token, assetIds[shout.id]]),
      await read<bigint>('creditOf', [token, assetIds[reverse.id]]),
    ],
    charged: [lane, reverseLane, otherLane].map((l) => server.router.provider.lane(l.laneId)?.charged ?? '0'),
    stats: server.stats.charged,
  }
}

beforeAll(async () => {
  devnet = await startDevnet({ accounts: 6 })
  token = devnet.addresses.stablecoin
  provider = devnet.client(1)
  payer = devnet.client(2)
  other = devnet.client(3)
  shout = shoutModel(provider.account.address, price)
  reverse = reverseModel(provider.account.address)
  server = await serveModels([shout, reverse], {
    client: provider,
    assetIds: (id) => assetIds[id],
    pollIntervalMs: 100,
    limits: { bodyBytes: 2_048 },
    redeem: { exposureThreshold: 10n ** 18n, beforeExpirySeconds: 10 },
  })
  for (const m of [shout, reverse]) {
    const r = await publishModel(provider, {
      cardURI: server.cardUrl(m.id),
      cardHash: m.cardHash(m.cardFor({ endpoint: server.endpoint(m.id) })),
      terms: { token, pricePerCall: m.terms.pricePerCall },
      payees: [{ address: provider.account.address, shareBps: 10_000 }],
      royaltyBps: 0,
    })
    assetIds[m.id] = r.assetId
  }
  lane = (await openLicense(payer, { modelId: assetIds[shout.id] as bigint, cap: 100_000n })).lane
  reverseLane = (await openLicense(payer, { modelId: assetIds[reverse.id] as bigint, cap: 100_000n })).lane
  otherLane = (await openLicense(other, { modelId: assetIds[shout.id] as bigint, cap: 100_000n })).lane
  // a first paid call, so the provider knows the lane
  const ok = await post(shout.id, '{"text":"warm"}', {
    'payment-signature': await voucher({ lane, cumulative: price }),
  })
  expect(ok.status).toBe(200)
})
afterAll(async () => {
  await server?.stop({ redeem: false })
  await devnet?.stop()
})

/** Sends a bad request and checks that it is answered as expected and moves no money. */
async function refused(
  expected: { status: number; code: string; message?: RegExp },
  send: () => Promise<{ status: number; body: Record<string, unknown> }>,
) {
  const before = await money()
  const r = await send()
  expect(r.status).toBe(expected.status)
  expect(r.body.code).toBe(expected.code)
  expect(typeof r.body.error).toBe('string')
  if (expected.message) expect(r.body.error).toMatch(expected.message)
  expect(JSON.stringify(r.body)).not.toMatch(/\n\s+at /)
  await server.router.provider.sync()
  expect(await money()).toEqual(before)
  return r
}

describe('bad requests get the right status, a useful JSON message, and move no money', () => {
  test('malformed JSON', async () => {
    await refused({ status: 400, code: 'malformed_json', message: /not valid JSON/ }, () =>
      post(shout.id, '{"text": '),
    )
  })

  test('schema violations, with and without a voucher, list the zod issues', async () => {
    const r = await refused({ status: 400, code: 'invalid_input' }, () =>
      post(shout.id, '{"text": 5, "extra": true}'),
    )
    expect(r.body.issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: ['text'] }),
        expect.objectContaining({ code: 'unrecognized_keys' }),
      ]),
    )
    const charged = BigInt(server.router.provider.lane(lane.laneId)?.charged ?? 0)
    const paid = await refused({ status: 400, code: 'invalid_input' }, async () =>
      post(shout.id, '{"text": 5}', {
        'payment-signature': await voucher({ lane, cumulative: charged + price }),
      }),
    )
    expect(paid.body).toMatchObject({ charged: false, lane: { charged: String(charged) } })
  })

  test('oversized bodies (declared or streamed)', async () => {
    const big = JSON.stringify({ text: 'x'.repeat(5_000) })
    await refused({ status: 413, code: 'body_too_large' }, () => post(shout.id, big))
  })

  test('unknown models, unknown paths, wrong methods and media types', async () => {
    await refused({ status: 404, code: 'unknown_model', message: /cards/ }, () => post('acme/nope', '{}'))
    const path = await fetch(`${server.url}/nothing/here`)
    expect(path.status).toBe(404)
    expect(await path.json()).toMatchObject({ code: 'not_found' })
    const get = await fetch(server.endpoint(shout.id))
    expect(get.status).toBe(405)
    await refused({ status: 415, code: 'unsupported_media_type' }, () =>
      post(shout.id, 'text=hi', { 'content-type': 'application/x-www-form-urlencoded' }),
    )
  })

  test('a payment header that is not a payment', async () => {
    await refused({ status: 402, code: 'invalid_payment' }, () =>
      post(shout.id, '{"text":"a"}', { 'payment-signature': 'bm90IGpzb24=' }),
    )
  })

  test('a forged voucher (signed by someone else)', async () => {
    const forged = await voucher({ lane, cumulative: 50_000n, signer: other })
    // the lane's layout is known from the paid warm-up: the forgery is read without JSON.parse, and still refused
    expect(readKnownPayment(decodeHeaderText(forged) as string)).toBeDefined()
    await refused({ status: 402, code: 'invalid_signature', message: /not by the lane's payer/ }, async () =>
      post(shout.id, '{"text":"a"}', { 'payment-signature': forged }),
    )
  })

  test('a voucher for another chain or ledger', async () => {
    await refused({ status: 402, code: 'invalid_signature' }, async () =>
      post(shout.id, '{"text":"a"}', {
        'payment-signature': await voucher({ lane, cumulative: 50_000n, chainId: 1 }),
      }),
    )
    await refused({ status: 402, code: 'invalid_signature' }, async () =>
      post(shout.id, '{"text":"a"}', {
        'payment-signature': await voucher({ lane, cumulative: 50_000n, ledger: devnet.addresses.registry }),
      }),
    )
    await refused({ status: 402, code: 'wrong_network', message: /eip155:1 / }, async () =>
      post(shout.id, '{"text":"a"}', {
        'payment-signature': await voucher({ lane, cumulative: 50_000n, network: 'eip155:1' }),
      }),
    )
  })

  test("another lane's voucher: another model's lane, another payer's lane", async () => {
    await refused({ status: 402, code: 'wrong_lane', message: /pays model/ }, async () =>
      post(shout.id, '{"text":"a"}', {
        'payment-signature': await voucher({ lane: reverseLane, cumulative: 50_000n }),
      }),
    )
    await refused({ status: 402, code: 'invalid_signature' }, async () =>
      post(shout.id, '{"text":"a"}', {
        'payment-signature': await voucher({ lane: otherLane, cumulative: 50_000n }),
      }),
    )
    const fake: Lane = { ...lane, seq: 999n, laneId: keccak256(toHex('no such lane')) }
    await refused({ status: 402, code: 'unknown_lane' }, async () =>
      post(shout.id, '{"text":"a"}', {
        'payment-signature': await voucher({ lane: fake, cumulative: 50_000n }),
      }),
    )
  })

  test('a voucher too small for the call', async () => {
    const r = await refused({ status: 402, code: 'voucher_too_small', message: /does not cover/ }, async () =>
      post(shout.id, '{"text":"a"}', {
        'payment-signature': await voucher({ lane, cumulative: price - 1n }),
      }),
    )
    const status = r.body.lane as { required: string; charged: string }
    expect(BigInt(status.required)).toBeGreaterThan(BigInt(status.charged))
  })

  test('a replayed voucher pays for nothing', async () => {
    const charged = BigInt(server.router.provider.lane(lane.laneId)?.charged ?? 0)
    const header = await voucher({ lane, cumulative: charged + 10n * price })
    const first = await post(shout.id, '{"text":"paid"}', { 'payment-signature': header })
    expect(first.status).toBe(200)
    expect(first.body).toEqual({ text: 'PAID' })
    // read by the known layout, as every payment on a lane after its first
    expect(readKnownPayment(decodeHeaderText(header) as string)).toBeDefined()
    await refused({ status: 402, code: 'voucher_replayed', message: /already paid/ }, () =>
      post(shout.id, '{"text":"again"}', { 'payment-signature': header }),
    )
  })

  test('vouchers signed in a batch: each pays once with its own proof; a wrong, missing or malformed proof pays nothing', async () => {
    const charged = BigInt(server.router.provider.lane(lane.laneId)?.charged ?? 0)
    const cumulatives = [1n, 2n, 3n].map((k) => charged + k * price)
    const { signature, proofs } = await signVouchers({
      account: payer.account,
      privateKey: payer.privateKey,
      chainId: devnet.chainId,
      ledger: devnet.addresses.ledger,
      vouchers: cumulatives.map((cumulative) => ({ laneId: lane.laneId, cumulative })),
    })
    const first = cumulatives[0] as bigint
    await refused({ status: 402, code: 'invalid_signature', message: /not by the lane's payer/ }, async () =>
      post(shout.id, '{"text":"a"}', {
        'payment-signature': await voucher({
          lane,
          cumulative: first,
          signed: { signature, proof: proofs[1] },
        }),
      }),
    )
    await refused({ status: 402, code: 'invalid_signature' }, async () =>
      post(shout.id, '{"text":"a"}', {
        'payment-signature': await voucher({ lane, cumulative: first, signed: { signature } }),
      }),
    )
    for (const proof of [['0x12'], 'nope', Array(33).fill(keccak256('0x01'))])
      await refused({ status: 402, code: 'invalid_payment', message: /proof is malformed/ }, async () =>
        post(shout.id, '{"text":"a"}', {
          'payment-signature': await voucher({ lane, cumulative: first, signed: { signature, proof } }),
        }),
      )
    const batchedBefore = server.stats.batchedVouchers
    for (const [i, cumulative] of cumulatives.entries()) {
      const r = await post(shout.id, `{"text":"b${i}"}`, {
        'payment-signature': await voucher({ lane, cumulative, signed: { signature, proof: proofs[i] } }),
      })
      expect(r.status).toBe(200)
    }
    expect(server.stats.batchedVouchers - batchedBefore).toBe(3)
    expect(BigInt(server.router.provider.lane(lane.laneId)?.charged ?? 0)).toBe(charged + 3n * price)
    // replayed, each voucher of the batch pays for nothing: the last one is spent, the others are below it
    await refused({ status: 402, code: 'voucher_replayed' }, async () =>
      post(shout.id, '{"text":"again"}', {
        'payment-signature': await voucher({
          lane,
          cumulative: cumulatives[2] as bigint,
          signed: { signature, proof: proofs[2] },
        }),
      }),
    )
    await refused({ status: 402, code: 'voucher_too_small' }, async () =>
      post(shout.id, '{"text":"again"}', {
        'payment-signature': await voucher({
          lane,
          cumulative: first,
          signed: { signature, proof: proofs[0] },
        }),
      }),
    )
  })

  test('an expired lane', async () => {
    const short = (
      await openLicense(payer, { modelId: assetIds[shout.id] as bigint, cap: 10_000n, ttlSeconds: 60 })
    ).lane
    const ok = await post(shout.id, '{"text":"a"}', {
      'payment-signature': await voucher({ lane: short, cumulative: price }),
    })
    expect(ok.status).toBe(200)
    await devnet.increaseTime(120)
    await server.router.provider.sync()
    // past (or near) expiry the provider redeems what it holds: exactly the one successful call
    await server.router.provider.redeem()
    expect((await getLane(provider, { laneId: short.laneId })).claimed).toBe(price)
    await refused({ status: 402, code: 'lane_expired', message: /expired at/ }, async () =>
      post(shout.id, '{"text":"b"}', {
        'payment-signature': await voucher({ lane: short, cumulative: 2n * price }),
      }),
    )
    expect((await getLane(provider, { laneId: short.laneId })).claimed).toBe(price)
  })
})

describe('vouchers and keys that name something else', () => {
  test('a voucher above the lane cap is refused: it could never be redeemed', async () => {
    await refused({ status: 402, code: 'lane_exhausted', message: /above the cap/ }, async () =>
      post(shout.id, '{"text":"a"}', {
        'payment-signature': await voucher({ lane, cumulative: 100_001n }),
      }),
    )
  })

  test('an Idempotency-Key names a call to one model: the same key and input on another model is another call', async () => {
    const key = { 'idempotency-key': 'shared-key-1' }
    const charged = (l: Lane) => BigInt(server.router.provider.lane(l.laneId)?.charged ?? 0)
    const a = await post(shout.id, '{"text":"abc"}', {
      ...key,
      'payment-signature': await voucher({ lane, cumulative: charged(lane) + price }),
    })
    const b = await post(reverse.id, '{"text":"abc"}', {
      ...key,
      'payment-signature': await voucher({
        lane: reverseLane,
        cumulative: charged(reverseLane) + reverse.terms.pricePerCall,
      }),
    })
    expect([a.status, b.status]).toEqual([200, 200])
    expect(a.body).toEqual({ text: 'ABC' })
    expect(b.body).toEqual({ text: 'cba' })
    expect(b.headers.get('idempotent-replayed')).toBeNull()
  })
})

describe('limits and health', () => {
  test('per-payer rate limit answers 429 with Retry-After', async () => {
    const limited = await serveModels([shout], {
      client: provider,
      assetIds: { [shout.id]: assetIds[shout.id] as bigint },
      limits: { perPayerPerSecond: 1, burst: 2 },
      redeem: { exposureThreshold: 10n ** 18n },
    })
    try {
      const charged = BigInt(server.router.provider.lane(otherLane.laneId)?.charged ?? 0)
      const statuses: number[] = []
      let last: Response | undefined
      for (let i = 1; i <= 4; i++) {
        last = await fetch(limited.endpoint(shout.id), {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'payment-signature': await voucher({
              lane: otherLane,
              signer: other,
              cumulative: charged + BigInt(i) * price,
            }),
          },
          body: '{"text":"r"}',
        })
        statuses.push(last.status)
      }
      expect(statuses.slice(0, 2)).toEqual([200, 200])
      expect(statuses[3]).toBe(429)
      expect(last?.headers.get('retry-after')).toBe('1')
      expect(await last?.json()).toMatchObject({ code: 'rate_limited' })
    } finally {
      await limited.stop({ redeem: false })
    }
  })

  test('health reflects whether models really run', async () => {
    const failing = await serveModels([shout], { payment: 'off', warmup: { [shout.id]: { text: 'boom' } } })
    const healthy = await serveModels([shout], { payment: 'off', warmup: { [shout.id]: { text: 'fine' } } })
    try {
      const bad = await fetch(`${failing.url}/health`)
      expect(bad.status).toBe(503)
      expect(await bad.json()).toMatchObject({
        status: 'failing',
        models: [{ id: 'acme/shout', status: 'failing' }],
      })
      const good = await fetch(`${healthy.url}/health`)
      expect(good.status).toBe(200)
      expect(await good.json()).toMatchObject({ status: 'ok', payment: 'off', chain: null })
      // payment off: calls are free and carry no receipt
      const r = await fetch(healthy.endpoint(shout.id), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"text":"free"}',
      })
      expect(r.status).toBe(200)
      expect(r.headers.get('payment-response')).toBeNull()
      expect(await r.json()).toEqual({ text: 'FREE' })
    } finally {
      await failing.stop()
      await healthy.stop()
    }
  })
})

describe('an answer that cannot be written', () => {
  test('a paid call whose answer fails to write says it was charged, and its Idempotency-Key gets the answer', async () => {
    const chargedOf = () => BigInt(server.router.provider.lane(lane.laneId)?.charged ?? 0)
    const charged = chargedOf()
    const writeHead = ServerResponse.prototype.writeHead
    let armed = false
    let thrown = 0
    // the next 200 carrying a receipt throws, as a write to a broken response would
    ServerResponse.prototype.writeHead = function (this: ServerResponse, ...a: unknown[]) {
      const headers = a[a.length - 1] as Record<string, string> | undefined
      if (a[0] === 200 && headers?.['payment-response'] && armed) {
        armed = false
        thrown++
        throw new Error('the response cannot be written')
      }
      return (writeHead as (...x: unknown[]) => ServerResponse).apply(this, a)
    } as typeof writeHead
    try {
      const header = await voucher({ lane, cumulative: charged + price })
      const send = () =>
        post(shout.id, '{"text":"lost"}', { 'payment-signature': header, 'idempotency-key': 'unsent-1' })
      armed = true
      const first = await send()
      expect(first.status).toBe(500)
      expect(first.body).toMatchObject({
        code: 'answer_unsent',
        charged: true,
        lane: { charged: String(charged + price) },
      })
      expect(first.body.error).toMatch(
        /charged; send it again with the same Idempotency-Key and input within 600 s/,
      )
      expect(chargedOf()).toBe(charged + price)
      // the same key answers the call that ran, receipt included, and charges nothing more
      const again = await send()
      expect(again.status).toBe(200)
      expect(again.body).toEqual({ text: 'LOST' })
      expect(again.headers.get('idempotent-replayed')).toBe('true')
      expect(again.headers.get('payment-response')).toBeTruthy()
      expect(chargedOf()).toBe(charged + price)

      // without a key the answer is gone, and the error says a new call is charged again
      armed = true
      const keyless = await post(shout.id, '{"text":"gone"}', {
        'payment-signature': await voucher({ lane, cumulative: charged + 2n * price }),
      })
      expect(keyless.status).toBe(500)
      expect(keyless.body).toMatchObject({ code: 'answer_unsent', charged: true })
      expect(keyless.body.error).toMatch(/no Idempotency-Key, so sending it again runs and charges it again/)
      expect(chargedOf()).toBe(charged + 2n * price)
      expect(thrown).toBe(2)
    } finally {
      ServerResponse.prototype.writeHead = writeHead
    }
  })
})

describe('receipt signing', () => {
  test('a receipt batch size that is not a positive integer is refused at start', async () => {
    for (const receiptBatch of [0, -1, 1.5])
      await expect(serveModels([shout], { client: provider, receiptBatch })).rejects.toThrow(
        /receiptBatch must be a positive integer/,
      )
  })

  test('a provider whose account cannot sign receipts is refused at start', async () => {
    const { signTypedData: _, ...cannotSign } = provider.account
    await expect(
      serveModels([shout], { client: { ...provider, privateKey: undefined, account: cannotSign as never } }),
    ).rejects.toThrow(/cannot sign receipts/)
  })

  test('a receipt that cannot be signed leaves the call uncharged, and its voucher can be sent again', async () => {
    const offline = {
      ...provider.account,
      signTypedData: async () => {
        throw new Error('the signing service is offline')
      },
    }
    const errors: unknown[] = []
    const broken = await serveModels([shout], {
      client: { ...provider, privateKey: undefined, account: offline as never },
      assetIds: (id) => assetIds[id],
      onError: (e) => errors.push(e),
    })
    try {
      const send = async () =>
        (
          await fetch(broken.endpoint(shout.id), {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'payment-signature': await voucher({ lane: otherLane, cumulative: 10n * price, signer: other }),
            },
            body: '{"text":"unsigned"}',
          })
        ).json() as Promise<Record<string, unknown>>
      const first = await send()
      expect(first).toMatchObject({
        code: 'receipt_unsigned',
        charged: false,
        lane: { charged: '0', inflight: '0' },
      })
      // the same voucher again: not a replay, since it paid for nothing
      expect(await send()).toMatchObject({ code: 'receipt_unsigned', charged: false })
      expect(broken.stats).toMatchObject({ charged: 0n, calls: { paid: 0, failed: 2 } })
      expect(String(errors[0])).toMatch(/offline/)
    } finally {
      await broken.stop({ redeem: false })
    }
  })
})

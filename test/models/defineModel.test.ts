import { keccak256, stringToBytes } from 'viem'
import { afterEach, describe, expect, test, vi } from 'vitest'
import * as z from 'zod'
import {
  type Card,
  canonicalJson,
  cardSchema,
  hashCard,
  InvalidCardError,
  type ModelTerms,
  NonCanonicalJsonError,
  parseCard,
  termsFromCard,
} from '../../src/market/card.js'
import { type DefineModelParameters, defineModel } from '../../src/models/defineModel.js'
import {
  InvalidModelDefinitionError,
  InvalidModelInputError,
  InvalidModelOutputError,
  InvalidTermsError,
  ModelAbortedError,
  ModelNotRunnableError,
  ModelRunError,
  ModelTimeoutError,
} from '../../src/models/errors.js'

const alice = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const bob = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'

const terms: ModelTerms = {
  pricePerCall: 2_000n,
  payees: [
    { address: alice, shareBps: 7_000 },
    { address: bob, shareBps: 3_000 },
  ],
  royaltyBps: 1_000,
}

const Input = z.object({ text: z.string().max(20), times: z.number().int().min(1).default(1) })
const Output = z.object({ text: z.string() })

/** A small model; `overrides` replace any field, typed loosely so tests can pass invalid values. */
function echo(overrides: Record<string, unknown> = {}) {
  const base: DefineModelParameters<typeof Input, typeof Output> = {
    id: 'acme/shout',
    version: '1.0.0',
    description: 'Upper-cases text.',
    capabilities: ['text.transform'],
    input: Input,
    output: Output,
    terms: { ...terms, payees: [...terms.payees] },
    lineage: { parents: ['acme/base'] },
    run: async ({ text, times }) => ({ text: text.toUpperCase().repeat(times) }),
  }
  return defineModel({ ...base, ...overrides } as DefineModelParameters<typeof Input, typeof Output>)
}

describe('card', () => {
  test('has the tributary.card/1 shape with JSON Schema from zod and decimal-string amounts', () => {
    const m = echo()
    expect(m.card).toEqual({
      schema: 'tributary.card/1',
      id: 'acme/shout',
      version: '1.0.0',
      kind: 'model',
      description: 'Upper-cases text.',
      capabilities: ['text.transform'],
      input: {
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'object',
        properties: {
          text: { type: 'string', maxLength: 20 },
          times: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, default: 1 },
        },
        // io: 'input' — a field with a default is optional for callers
        required: ['text'],
      },
      output: {
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'object',
        properties: { text: { type: 'string' } },
        required: ['text'],
        additionalProperties: false,
      },
      terms: {
        token: 'default',
        pricePerCall: '2000',
        flatFee: '0',
        flatPeriodSeconds: 0,
        payees: [
          { address: alice, shareBps: 7000 },
          { address: bob, shareBps: 3000 },
        ],
        royaltyBps: 1000,
      },
      lineage: { parents: ['acme/base'] },
    })
    expect(cardSchema.parse(m.card)).toEqual(m.card)
    expect(termsFromCard(m.card.terms)).toEqual({
      ...terms,
      token: 'default',
      flatFee: 0n,
      flatPeriodSeconds: 0,
    })
    // the card is plain JSON: it survives a round trip unchanged
    expect(JSON.parse(JSON.stringify(m.card))).toEqual(m.card)
  })

  test('cardFor adds the endpoint, which changes the hash; bad endpoints are refused', () => {
    const m = echo()
    const served = m.cardFor({ endpoint: 'http://127.0.0.1:8080/models/acme/shout' })
    expect(served.endpoint).toBe('http://127.0.0.1:8080/models/acme/shout')
    expect(m.cardHash(served)).not.toBe(m.hash)
    expect(parseCard(served)).toEqual(served)
    expect(() => m.cardFor({ endpoint: 'ftp://x/y' })).toThrow(InvalidModelDefinitionError)
  })

  test('a dataset is listed without run and cannot be called', async () => {
    const d = defineModel({
      kind: 'dataset',
      id: 'acme/reviews',
      version: '1.0.0',
      description: 'Labelled reviews.',
      capabilities: ['dataset.text'],
      output: z.object({ text: z.string(), label: z.enum(['pos', 'neg']) }),
      terms: { pricePerCall: 0n, payees: [{ address: alice, shareBps: 10_000 }], royaltyBps: 500 },
    })
    expect(d.kind).toBe('dataset')
    expect(d.runnable).toBe(false)
    expect(d.card.input).toBeUndefined()
    expect(d.card.output?.required).toEqual(['text', 'label'])
    expect(d.card.lineage).toEqual({ parents: [] })
    expect(cardSchema.safeParse(d.card).success).toBe(true)
    await expect(d.handler({})).rejects.toBeInstanceOf(ModelNotRunnableError)
  })
})

describe('hash', () => {
  test('canonical JSON sorts keys recursively and drops whitespace', () => {
    expect(canonicalJson({ b: 1, a: [true, { d: null, c: 'x' }], e: undefined })).toBe(
      '{"a":[true,{"c":"x","d":null}],"b":1}',
    )
    expect(canonicalJson('é"\n')).toBe(JSON.stringify('é"\n'))
  })

  test('the hash does not depend on key order and is keccak256 of the canonical JSON', () => {
    const m = echo()
    const reverse = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(reverse)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .reverse()
                .map(([k, x]) => [k, reverse(x)]),
            )
          : v
    const reordered = reverse(m.card) as Card
    expect(Object.keys(reordered)[0]).not.toBe(Object.keys(m.card)[0])
    expect(hashCard(reordered)).toBe(m.hash)
    expect(m.hash).toBe(keccak256(stringToBytes(canonicalJson(m.card))))
    // stable across definitions, sensitive to content
    expect(echo().hash).toBe(m.hash)
    expect(echo({ version: '1.0.1' }).hash).not.toBe(m.hash)
    expect(echo({ terms: { ...terms, pricePerCall: 2_001n } }).hash).not.toBe(m.hash)
  })

  test('values JSON cannot carry are refused', () => {
    expect(() => canonicalJson({ a: 1n })).toThrow(NonCanonicalJsonError)
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/non-finite/)
    expect(() => canonicalJson({ a: new Date(0) })).toThrow(/plain object/)
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(() => canonicalJson(cyclic)).toThrow(/cycle/)
  })
})

describe('terms and definition are checked', () => {
  const bad = (t: Record<string, unknown>) => () =>
    echo({ terms: { ...terms, payees: [...terms.payees], ...t } })

  test.each([
    [
      'shares not summing to 10000',
      { payees: [{ address: alice, shareBps: 5_000 }] },
      /sum to 10000 bps, got 5000/,
    ],
    ['no payees', { payees: [] }, /between 1 and 8 payees/],
    [
      'nine payees',
      {
        payees: Array.from({ length: 9 }, (_, i) => ({
          address: `0x${(i + 1).toString(16).padStart(40, '0')}`,
          shareBps: i === 0 ? 2_000 : 1_000,
        })),
      },
      /between 1 and 8 payees are required, got 9/,
    ],
    ['royalty above 5000', { royaltyBps: 5_001 }, /royaltyBps must be an integer between 0 and 5000/],
    ['negative price', { pricePerCall: -1n }, /pricePerCall/],
    ['price above uint96', { pricePerCall: 2n ** 96n }, /pricePerCall/],
    ['flat fee without period', { flatFee: 10n }, /flat fee needs flatPeriodSeconds/],
    [
      'duplicate payee',
      {
        payees: [
          { address: alice, shareBps: 5_000 },
          { address: alice.toLowerCase(), shareBps: 5_000 },
        ],
      },
      /duplicate payee/,
    ],
    [
      'zero share',
      {
        payees: [
          { address: alice, shareBps: 0 },
          { address: bob, shareBps: 10_000 },
        ],
      },
      /shareBps/,
    ],
    ['bad token', { token: '0x1234' }, /token must be an address/],
  ])('%s → InvalidTermsError', (_name, t, message) => {
    const fn = bad(t)
    expect(fn).toThrow(InvalidTermsError)
    expect(fn).toThrow(message)
  })

  test('the error says what to do and carries the issues', () => {
    try {
      bad({ royaltyBps: 9_000 })()
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidTermsError)
      const err = e as InvalidTermsError
      expect(err.name).toBe('InvalidTermsError')
      expect(err.issues).toEqual([expect.objectContaining({ path: ['royaltyBps'] })])
      expect(err.message).toContain('royaltyBps is at most 5000')
    }
  })

  test('bad id, version, capability, lineage and unrepresentable schemas → InvalidModelDefinitionError', () => {
    expect(() => echo({ id: 'Shout' })).toThrow(InvalidModelDefinitionError)
    expect(() => echo({ version: 'v1' })).toThrow(/semantic version/)
    expect(() => echo({ capabilities: ['Text Sentiment'] })).toThrow(/lower-case tag/)
    expect(() => echo({ lineage: { parents: ['acme/shout'] } })).toThrow(/own parent/)
    expect(() => echo({ lineage: { parents: ['a/b', 'a/b'] } })).toThrow(/duplicate parent/)
    expect(() => echo({ output: z.object({ amount: z.bigint() }) })).toThrow(/JSON Schema/)
    expect(() => echo({ run: undefined })).toThrow(/needs a run/)
    expect(() => echo({ capabilities: 'ocr' })).toThrow(/must be an array of capability tags/)
    expect(() => echo({ terms: { pricePerCall: 2000, payees: [], royaltyBps: 0 } })).toThrow(
      InvalidTermsError,
    )
    expect(() => echo({ terms: undefined })).toThrow(/terms need pricePerCall \(bigint\)/)
  })
})

describe('handler', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  test('validates input, applies defaults, runs and returns the parsed output', async () => {
    const m = echo()
    await expect(m.call({ text: 'hey', times: 2 })).resolves.toEqual({ text: 'HEYHEY' })
    await expect(m.handler({ text: 'ok' })).resolves.toEqual({ text: 'OK' })
  })

  test('bad input → InvalidModelInputError with the zod issues, and run is not called', async () => {
    const run = vi.fn(async () => ({ text: '' }))
    const m = echo({ run })
    const err = await m.handler({ text: 'x'.repeat(21), times: 0 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidModelInputError)
    const issues = (err as InvalidModelInputError).issues
    expect(issues.map((i) => i.path)).toEqual([['text'], ['times']])
    expect((err as Error).message).toContain('- text:')
    expect(run).not.toHaveBeenCalled()
    await expect(m.handler('not an object')).rejects.toThrow(/does not match its input schema/)
  })

  test('output that breaks the output schema → InvalidModelOutputError', async () => {
    const m = echo({ run: async () => ({ text: 42 }) as never })
    const err = await m.handler({ text: 'a' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidModelOutputError)
    expect((err as InvalidModelOutputError).issues[0]?.path).toEqual(['text'])
  })

  test('a throwing run → ModelRunError with the cause', async () => {
    const boom = new Error('weights missing')
    const m = echo({
      run: async () => {
        throw boom
      },
    })
    const err = await m.handler({ text: 'a' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ModelRunError)
    expect((err as ModelRunError).cause).toBe(boom)
    expect((err as ModelRunError).walk()).toBe(boom)
  })

  test('timeout: rejects with ModelTimeoutError and aborts run through its signal', async () => {
    vi.useFakeTimers()
    let seen: AbortSignal | undefined
    const m = echo({
      timeoutMs: 1_000,
      run: (_input: unknown, { signal }: { signal: AbortSignal }) => {
        seen = signal
        return new Promise(() => {}) // never settles: the handler must not wait for it
      },
    })
    const p = m.handler({ text: 'a' })
    const settled = p.catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(999)
    expect(seen?.aborted).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    const err = await settled
    expect(err).toBeInstanceOf(ModelTimeoutError)
    expect((err as ModelTimeoutError).timeoutMs).toBe(1_000)
    expect(seen?.aborted).toBe(true)
    expect(seen?.reason).toBe(err)
    // a per-call budget overrides the definition's
    const q = m.handler({ text: 'a' }, { timeoutMs: 10 }).catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(10)
    expect(await q).toMatchObject({ name: 'ModelTimeoutError', timeoutMs: 10 })
  })

  test('caller abort: rejects with ModelAbortedError, aborts run, and a pre-aborted signal runs nothing', async () => {
    const ac = new AbortController()
    let seen: AbortSignal | undefined
    const m = echo({
      run: (_input: unknown, { signal }: { signal: AbortSignal }) => {
        seen = signal
        return new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(new Error('stopped'))),
        )
      },
    })
    const p = m.handler({ text: 'a' }, { signal: ac.signal })
    await Promise.resolve()
    ac.abort(new Error('user left'))
    const err = await p.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ModelAbortedError)
    expect(seen?.aborted).toBe(true)

    const run = vi.fn(async () => ({ text: '' }))
    await expect(
      echo({ run }).handler({ text: 'a' }, { signal: AbortSignal.abort() }),
    ).rejects.toBeInstanceOf(ModelAbortedError)
    expect(run).not.toHaveBeenCalled()
  })

  test('close() calls the model close hook once', async () => {
    const close = vi.fn()
    const m = echo({ close })
    await m.close()
    await m.close()
    expect(close).toHaveBeenCalledTimes(1)
  })
})

describe('cardSchema (untrusted cards)', () => {
  test('rejects malformed cards with clear issues', () => {
    const m = echo()
    const tampered = {
      ...m.card,
      schema: 'tributary.card/2',
      terms: { ...m.card.terms, pricePerCall: '-5', royaltyBps: 6_000 },
      lineage: { parents: ['acme/shout'] },
      extra: true,
    }
    const r = cardSchema.safeParse(tampered)
    expect(r.success).toBe(false)
    const paths = r.error?.issues.map((i) => i.path.join('.'))
    expect(paths).toEqual(expect.arrayContaining(['schema', 'terms.pricePerCall', '']))
    expect(() => parseCard(tampered, { source: 'http://127.0.0.1:1/card' })).toThrow(InvalidCardError)
    expect(() => parseCard(tampered, { source: 'http://127.0.0.1:1/card' })).toThrow(
      /from http:\/\/127.0.0.1:1/,
    )
  })

  test('checks terms and lineage rules the same way defineModel does', () => {
    const card = echo().card
    const r = cardSchema.safeParse({
      ...card,
      terms: { ...card.terms, payees: [{ address: alice, shareBps: 9_999 }], royaltyBps: 6_000 },
      lineage: { parents: ['acme/shout'] },
    })
    expect(r.success).toBe(false)
    const messages = r.error?.issues.map((i) => i.message).join('\n')
    expect(messages).toMatch(/sum to 10000 bps, got 9999/)
    expect(messages).toMatch(/royaltyBps/)
    expect(messages).toMatch(/own parent/)
    const { input: _input, ...noInput } = card
    expect(cardSchema.safeParse(noInput).error?.issues[0]?.message).toMatch(/needs an input schema/)
  })
})

import { describe, expect, test } from 'vitest'
import {
  CATALOG_IDS,
  createCatalog,
  measureCatalogLatency,
  OCR_ID,
  REVIEW_SENTIMENT_ID,
  REVIEWS_CORPUS_ID,
  SENTIMENT_ID,
} from '../../catalog/index.js'
import { cardSchema, hashCard, termsFromCard } from '../../src/market/card.js'
import { InvalidTermsError } from '../../src/models/errors.js'

const alice = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const bob = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'

describe('catalog', () => {
  test('lists every model and the dataset, parents before derivatives, with valid cards', async () => {
    const catalog = createCatalog({ payees: alice })
    expect(catalog.all.map((m) => m.id)).toEqual([...CATALOG_IDS])
    expect(catalog.models.map((m) => m.id)).not.toContain(REVIEWS_CORPUS_ID)
    expect(catalog.models).toHaveLength(6)
    for (const m of catalog.all) {
      const r = cardSchema.safeParse(m.card)
      expect(r.success, `${m.id}: ${r.error?.message}`).toBe(true)
      expect(m.hash).toBe(hashCard(m.card))
      // every parent is listed before its child, so publishing in this order resolves lineage
      const index = CATALOG_IDS.indexOf(m.id as (typeof CATALOG_IDS)[number])
      for (const p of m.lineage.parents) expect(CATALOG_IDS.indexOf(p as never)).toBeLessThan(index)
    }
    expect(catalog.get(SENTIMENT_ID)).toBe(catalog.sentiment)
    expect(catalog.get('tributary/nope')).toBeUndefined()
    await catalog.close()
  })

  test('terms: small stablecoin prices, royalties, and the lineage of the derivative', () => {
    const catalog = createCatalog({ payees: alice })
    const summary = Object.fromEntries(
      catalog.all.map((m) => [
        m.id,
        {
          kind: m.kind,
          price: m.terms.pricePerCall,
          royaltyBps: m.terms.royaltyBps,
          parents: m.lineage.parents,
        },
      ]),
    )
    expect(summary).toEqual({
      'tributary/ocr': { kind: 'model', price: 5_000n, royaltyBps: 500, parents: [] },
      'tributary/language-id': { kind: 'model', price: 1_000n, royaltyBps: 500, parents: [] },
      'tributary/sentiment': { kind: 'model', price: 2_000n, royaltyBps: 1_000, parents: [] },
      'tributary/entities': { kind: 'model', price: 3_000n, royaltyBps: 800, parents: [] },
      'tributary/summarize': { kind: 'model', price: 4_000n, royaltyBps: 500, parents: [] },
      'tributary/reviews-corpus': { kind: 'dataset', price: 0n, royaltyBps: 1_500, parents: [] },
      'tributary/review-sentiment': {
        kind: 'model',
        price: 3_000n,
        royaltyBps: 500,
        parents: [SENTIMENT_ID, REVIEWS_CORPUS_ID],
      },
    })
    // the card carries the same terms, amounts as decimal strings
    expect(termsFromCard(catalog.reviewSentiment.card.terms).pricePerCall).toBe(3_000n)
    expect(catalog.reviewSentiment.card.lineage).toEqual({ parents: [SENTIMENT_ID, REVIEWS_CORPUS_ID] })
    // the dataset's card commits to the data it lists
    expect(catalog.reviewsCorpus.card.description).toMatch(
      /24 short English product reviews.*keccak256 0x[0-9a-f]{64}/,
    )
  })

  test('payees are assigned by the publisher: one address, a map by id, or a function', () => {
    const byMap = createCatalog({
      payees: Object.fromEntries(
        CATALOG_IDS.map((id) => [
          id,
          id === OCR_ID
            ? [
                { address: alice, shareBps: 6_000 },
                { address: bob, shareBps: 4_000 },
              ]
            : [{ address: bob, shareBps: 10_000 }],
        ]),
      ),
    })
    expect(byMap.ocr.terms.payees).toEqual([
      { address: alice, shareBps: 6_000 },
      { address: bob, shareBps: 4_000 },
    ])
    expect(byMap.sentiment.card.terms.payees).toEqual([{ address: bob, shareBps: 10_000 }])
    const byFn = createCatalog({
      payees: (id) => [{ address: id === REVIEW_SENTIMENT_ID ? bob : alice, shareBps: 10_000 }],
    })
    expect(byFn.reviewSentiment.terms.payees[0]?.address).toBe(bob)
    expect(byFn.ocr.terms.payees[0]?.address).toBe(alice)
    // different payees, different card hashes
    expect(byFn.ocr.hash).not.toBe(byMap.ocr.hash)
    expect(() => createCatalog({ payees: { [OCR_ID]: [{ address: alice, shareBps: 10_000 }] } })).toThrow(
      /no payees given for catalog model "tributary\/language-id"/,
    )
    expect(() => createCatalog({ payees: () => [{ address: alice, shareBps: 5_000 }] })).toThrow(
      InvalidTermsError,
    )
  })

  test('measureCatalogLatency reports every callable model it is asked for', async () => {
    const catalog = createCatalog({ payees: alice })
    // OCR is measured in ocr.test.ts; a second Tesseract worker here would only compete for the CPU
    const ids = catalog.models.map((m) => m.id).filter((id) => id !== OCR_ID)
    try {
      const rows = await measureCatalogLatency(catalog, { runs: 3, ids })
      console.log('[latency] catalog (in process, ms)')
      console.table(rows)
      expect(rows.map((r) => r.id)).toEqual(ids)
      for (const r of rows) {
        expect(r.runs).toBe(3)
        expect(r.p50Ms).toBeGreaterThan(0)
        expect(r.maxMs).toBeGreaterThanOrEqual(r.p50Ms)
        expect(r.coldMs).toBeGreaterThan(0)
      }
    } finally {
      await catalog.close()
    }
  })
})

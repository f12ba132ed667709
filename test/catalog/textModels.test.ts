import { afterAll, describe, expect, test } from 'vitest'
import {
  createCatalog,
  ENTITIES_ID,
  LANGUAGE_ID_ID,
  loadReviewsCorpus,
  loadSampleDocument,
  loadSampleTexts,
  REVIEW_SENTIMENT_ID,
  reviewCalibration,
  SENTIMENT_ID,
  SUMMARIZE_ID,
} from '../../catalog/index.js'
import { splitSentences } from '../../catalog/nlp.js'
import { InvalidModelInputError } from '../../src/models/errors.js'

const payee = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const catalog = createCatalog({ payees: payee })
const texts = loadSampleTexts()

afterAll(async () => {
  await catalog.close()
})

/** Calls a model, prints its latency, returns the output. */
async function timed<T>(id: string, fn: () => Promise<T>): Promise<T> {
  const t = performance.now()
  const out = await fn()
  console.log(`[latency] ${id}: ${(performance.now() - t).toFixed(2)} ms`)
  return out
}

describe(LANGUAGE_ID_ID, () => {
  test.each([
    ['review', 'en'],
    ['news', 'en'],
    ['german', 'de'],
    ['french', 'fr'],
    ['spanish', 'es'],
  ] as const)('%s sample → %s', async (name, code) => {
    const r = await timed(LANGUAGE_ID_ID, () => catalog.languageId.call({ text: texts[name].text }))
    expect(r.language).toBe(code)
    expect(r.language).toBe(texts[name].language)
    expect(r.probability).toBeGreaterThan(0.9)
    expect(r.isReliable).toBe(true)
  })

  test('an empty text is refused', async () => {
    await expect(catalog.languageId.handler({ text: '' })).rejects.toBeInstanceOf(InvalidModelInputError)
  })
})

describe(SENTIMENT_ID, () => {
  test('clear positive and negative reviews get the right label', async () => {
    const pos = await timed(SENTIMENT_ID, () => catalog.sentiment.call({ text: texts.review.text }))
    const neg = await timed(SENTIMENT_ID, () => catalog.sentiment.call({ text: texts.negativeReview.text }))
    expect(pos.label).toBe('positive')
    expect(pos.compound).toBeGreaterThan(0.2)
    expect(neg.label).toBe('negative')
    expect(neg.compound).toBeLessThan(-0.05)
    for (const r of [pos, neg]) expect(r.pos + r.neu + r.neg).toBeCloseTo(1, 1)
    expect(
      (await catalog.sentiment.call({ text: 'I love this, it is wonderful!' })).compound,
    ).toBeGreaterThan(0.8)
    expect((await catalog.sentiment.call({ text: 'This is terrible and I hate it.' })).compound).toBeLessThan(
      -0.7,
    )
    expect((await catalog.sentiment.call({ text: 'The box is blue.' })).label).toBe('neutral')
  })
})

describe(ENTITIES_ID, () => {
  test('finds the people, places and organisations of the news sample', async () => {
    const { entities } = await timed(ENTITIES_ID, () => catalog.entities.call({ text: texts.news.text }))
    const of = (type: string) => entities.filter((e) => e.type === type).map((e) => e.value)
    expect(of('PERSON')).toEqual(expect.arrayContaining(['Anna Weber', 'Louis Martin']))
    expect(of('PLACE')).toEqual(
      expect.arrayContaining(['Paris', 'Germany', 'France', 'Frankfurt', 'Strasbourg']),
    )
    expect(of('ORGANIZATION')).toEqual(expect.arrayContaining(['Deutsche Bank', 'Nordgrid Energy']))
    expect(of('DATE')).toContain('Tuesday')
    // no place or organisation is mistaken for a person
    expect(of('PERSON')).not.toEqual(expect.arrayContaining(['Paris']))
    expect(of('PERSON').every((p) => /Weber|Martin/.test(p))).toBe(true)
  })

  test('finds the person, places and company of the OCR document text', async () => {
    const { entities } = await catalog.entities.call({
      text: 'Customer report from Berlin, 12 March 2026. Maria Keller, who tested them on the train to Munich, liked the Nordlicht Audio headphones.',
    })
    expect(entities).toEqual(
      expect.arrayContaining([
        { value: 'Berlin', type: 'PLACE' },
        { value: '12 March 2026', type: 'DATE' },
        { value: 'Maria Keller', type: 'PERSON' },
        { value: 'Munich', type: 'PLACE' },
        { value: 'Nordlicht Audio', type: 'ORGANIZATION' },
      ]),
    )
  })
})

describe(SUMMARIZE_ID, () => {
  test('returns at most maxSentences sentences, taken verbatim from the text, in order', async () => {
    const text = texts.news.text
    const sentences = splitSentences(text)
    expect(sentences.length).toBe(6)
    for (const maxSentences of [1, 2, 3]) {
      const r = await timed(SUMMARIZE_ID, () => catalog.summarize.call({ text, maxSentences }))
      expect(r.sentences).toHaveLength(maxSentences)
      for (const s of r.sentences) expect(sentences[s.index]?.replace(/\s+/g, ' ')).toBe(s.text)
      const indexes = r.sentences.map((s) => s.index)
      expect(indexes).toEqual([...indexes].sort((a, b) => a - b))
      expect(r.summary).toBe(r.sentences.map((s) => s.text).join(' '))
    }
    // the opening sentence, which shares the most content words with the rest, is the most central
    const one = await catalog.summarize.call({ text, maxSentences: 1 })
    expect(one.sentences[0]?.index).toBe(0)
    // asking for more sentences than there are returns them all; the default is 3
    expect((await catalog.summarize.call({ text, maxSentences: 20 })).sentences).toHaveLength(6)
    expect((await catalog.summarize.call({ text })).sentences).toHaveLength(3)
    await expect(catalog.summarize.handler({ text, maxSentences: 0 })).rejects.toBeInstanceOf(
      InvalidModelInputError,
    )

    // in a short text whose sentences share no words, the fuller sentences win the tie, in one line each
    const doc = await catalog.summarize.call({ text: loadSampleDocument().text, maxSentences: 2 })
    expect(doc.sentences.map((s) => s.index)).toEqual([1, 2])
    expect(doc.summary).toMatch(
      /^The new Aurora X2 headphones from Nordlicht Audio are excellent: .* Maria Keller, who/,
    )
    expect(doc.summary).not.toContain('\n')
  })
})

describe(REVIEW_SENTIMENT_ID, () => {
  test('labels the sample reviews, estimates stars, and scores aspects', async () => {
    const pos = await timed(REVIEW_SENTIMENT_ID, () =>
      catalog.reviewSentiment.call({ text: texts.review.text }),
    )
    const neg = await timed(REVIEW_SENTIMENT_ID, () =>
      catalog.reviewSentiment.call({ text: texts.negativeReview.text }),
    )
    expect(pos).toMatchObject({ label: 'positive' })
    expect(pos.rating).toBeGreaterThanOrEqual(4)
    expect(neg).toMatchObject({ label: 'negative' })
    expect(neg.rating).toBeLessThanOrEqual(2)
    expect(neg.aspects.find((a) => a.aspect === 'refund')?.label).toBe('negative')
    expect(pos.aspects.find((a) => a.aspect === 'price')?.label).toBe('positive')
  })

  test('review phrases that plain VADER misses are scored, and it beats its parent on the corpus', async () => {
    for (const [text, label] of [
      ['It leaks every time I use it.', 'negative'],
      ['Returned it the next day.', 'negative'],
      ['Five stars. Does what it says on the box.', 'positive'],
    ] as const) {
      expect((await catalog.sentiment.call({ text })).label).toBe('neutral')
      expect((await catalog.reviewSentiment.call({ text })).label).toBe(label)
    }

    const { records } = loadReviewsCorpus()
    let parent = 0
    let derived = 0
    for (const r of records) {
      if ((await catalog.sentiment.call({ text: r.text })).label === r.label) parent++
      if ((await catalog.reviewSentiment.call({ text: r.text })).label === r.label) derived++
    }
    console.log(
      `[accuracy] corpus: ${SENTIMENT_ID} ${parent}/${records.length}, ${REVIEW_SENTIMENT_ID} ${derived}/${records.length}`,
    )
    expect(derived).toBeGreaterThan(parent)
    expect(reviewCalibration().accuracy).toBeGreaterThanOrEqual(0.9)
  })
})

import type { ModelDefinition } from '../src/models/defineModel.js'
import { createEntitiesModel, ENTITIES_ID } from './entities.js'
import { createLanguageIdModel, LANGUAGE_ID_ID } from './languageId.js'
import { createOcrModel, OCR_ID } from './ocr.js'
import type { CatalogPayees } from './payees.js'
import { createReviewSentimentModel, REVIEW_SENTIMENT_ID } from './reviewSentiment.js'
import { createReviewsCorpusDataset, REVIEWS_CORPUS_ID } from './reviewsCorpus.js'
import { loadSampleDocument, loadSampleTexts } from './samples.js'
import { createSentimentModel, SENTIMENT_ID } from './sentiment.js'
import { createSummarizerModel, SUMMARIZE_ID } from './summarize.js'

export {
  createEntitiesModel,
  ENTITIES_ID,
  type Entity,
  type EntityType,
  extractEntities,
} from './entities.js'
export { createLanguageIdModel, LANGUAGE_ID_ID } from './languageId.js'
export { createOcrModel, OCR_ID } from './ocr.js'
export { type CatalogModelOptions, type CatalogPayees, resolvePayees } from './payees.js'
export { createReviewSentimentModel, REVIEW_SENTIMENT_ID, reviewCalibration } from './reviewSentiment.js'
export { createReviewsCorpusDataset, loadReviewsCorpus, REVIEWS_CORPUS_ID } from './reviewsCorpus.js'
export { loadSampleDocument, loadSampleTexts, type SampleTexts, samplePath } from './samples.js'
export { createSentimentModel, labelOf, SENTIMENT_ID } from './sentiment.js'
export { createSummarizerModel, rankSentences, SUMMARIZE_ID } from './summarize.js'

/**
 * Every catalog listing, parents before the derivatives that name them (the order to publish in).
 */
export const CATALOG_IDS = [
  OCR_ID,
  LANGUAGE_ID_ID,
  SENTIMENT_ID,
  ENTITIES_ID,
  SUMMARIZE_ID,
  REVIEWS_CORPUS_ID,
  REVIEW_SENTIMENT_ID,
] as const
export type CatalogId = (typeof CATALOG_IDS)[number]

/** Options of {@link createCatalog}. */
export type CreateCatalogOptions = {
  /** Who is paid for each listing: one address, a map by id, or a function of the id. */
  payees: CatalogPayees
  /** Overrides every model's default time budget per call. */
  timeoutMs?: number | undefined
}

/** The catalog, built: its listings in publish order, each typed, and one `close()` for all. */
export type Catalog = {
  ocr: ReturnType<typeof createOcrModel>
  languageId: ReturnType<typeof createLanguageIdModel>
  sentiment: ReturnType<typeof createSentimentModel>
  entities: ReturnType<typeof createEntitiesModel>
  summarize: ReturnType<typeof createSummarizerModel>
  reviewsCorpus: ReturnType<typeof createReviewsCorpusDataset>
  reviewSentiment: ReturnType<typeof createReviewSentimentModel>
  /** Every listing (models and the dataset), parents first. */
  all: readonly ModelDefinition[]
  /** The callable models only. */
  models: readonly ModelDefinition[]
  /** The listing with this id. */
  get(id: string): ModelDefinition | undefined
  /** Terminates the OCR worker and frees the language-ID WASM instance. */
  close(): Promise<void>
}

/**
 * Builds the bundled offline models and the reviews dataset with the given payees. Nothing heavy is
 * loaded until a model is first called (the OCR worker, the CLD3 WASM module, the wink-nlp model).
 *
 * @example
 * ```ts
 * const catalog = createCatalog({ payees: { 'tributary/ocr': [{ address: alice, shareBps: 10_000 }], … } })
 * const { text } = await catalog.ocr.call({ image })
 * await catalog.close()
 * ```
 */
export function createCatalog(options: CreateCatalogOptions): Catalog {
  const base = { payees: options.payees, timeoutMs: options.timeoutMs }
  const ocr = createOcrModel(base)
  const languageId = createLanguageIdModel(base)
  const sentiment = createSentimentModel(base)
  const entities = createEntitiesModel(base)
  const summarize = createSummarizerModel(base)
  const reviewsCorpus = createReviewsCorpusDataset(base)
  const reviewSentiment = createReviewSentimentModel(base)
  const all: ModelDefinition[] = [
    ocr,
    languageId,
    sentiment,
    entities,
    summarize,
    reviewsCorpus,
    reviewSentiment,
  ] as unknown as ModelDefinition[]
  const byId = new Map(all.map((m) => [m.id, m]))
  return {
    ocr,
    languageId,
    sentiment,
    entities,
    summarize,
    reviewsCorpus,
    reviewSentiment,
    all,
    models: all.filter((m) => m.runnable),
    get: (id) => byId.get(id),
    close: async () => {
      await Promise.all(all.map((m) => m.close()))
    },
  }
}

/** Latency of one catalog model over repeated calls on its sample input. */
export type ModelLatency = {
  id: string
  /** The first call, which loads the model (worker, WASM, language model). */
  coldMs: number
  /** Median of the warm calls. */
  p50Ms: number
  /** Slowest warm call. */
  maxMs: number
  runs: number
}

/**
 * The sample input each catalog model is measured on (the bundled document image and texts).
 *
 * @example
 * ```ts
 * await catalog.sentiment.call(sampleInputs().get('tributary/sentiment'))
 * ```
 */
export function sampleInputs(): Map<CatalogId, unknown> {
  const texts = loadSampleTexts()
  const doc = loadSampleDocument()
  return new Map<CatalogId, unknown>([
    [OCR_ID, { image: doc.image }],
    [LANGUAGE_ID_ID, { text: texts.german.text }],
    [SENTIMENT_ID, { text: texts.review.text }],
    [ENTITIES_ID, { text: texts.news.text }],
    [SUMMARIZE_ID, { text: texts.news.text, maxSentences: 2 }],
    [REVIEW_SENTIMENT_ID, { text: texts.negativeReview.text }],
  ])
}

/**
 * Measures each callable catalog model on its sample input, in process, sequentially: one cold call,
 * then `runs` warm calls. For benchmarks (the calls benchmark reports these); never an assertion.
 *
 * @example
 * ```ts
 * const catalog = createCatalog({ payees: '0xf39F…' })
 * console.table(await measureCatalogLatency(catalog, { runs: 5 }))
 * await catalog.close()
 * ```
 */
export async function measureCatalogLatency(
  catalog: Catalog,
  options: { runs?: number; ids?: readonly string[] } = {},
): Promise<ModelLatency[]> {
  const runs = Math.max(1, options.runs ?? 5)
  const inputs = sampleInputs()
  const results: ModelLatency[] = []
  for (const model of catalog.models) {
    if (options.ids && !options.ids.includes(model.id)) continue
    const input = inputs.get(model.id as CatalogId)
    if (input === undefined) continue
    let t = performance.now()
    await model.handler(input)
    const coldMs = performance.now() - t
    const warm: number[] = []
    for (let i = 0; i < runs; i++) {
      t = performance.now()
      await model.handler(input)
      warm.push(performance.now() - t)
    }
    warm.sort((a, b) => a - b)
    const r2 = (x: number) => Math.round(x * 100) / 100
    results.push({
      id: model.id,
      coldMs: r2(coldMs),
      p50Ms: r2(warm[Math.floor((warm.length - 1) / 2)] ?? 0),
      maxMs: r2(warm[warm.length - 1] ?? 0),
      runs,
    })
  }
  return results
}

/**
 * Loads every callable model by running it once on its sample input, in parallel: the OCR worker,
 * the CLD3 WASM module and the wink-nlp model are then ready, so the first paid call is not the slow
 * one. Resolves with the time it took.
 *
 * @example
 * ```ts
 * const catalog = createCatalog({ payees })
 * const warming = warmCatalog(catalog) // start while the devnet deploys
 * await warming
 * ```
 */
export async function warmCatalog(catalog: Catalog): Promise<{ ms: number }> {
  const t = performance.now()
  const inputs = sampleInputs()
  await Promise.all(
    catalog.models.map((m) => {
      const input = inputs.get(m.id as CatalogId)
      return input === undefined ? undefined : m.handler(input)
    }),
  )
  return { ms: Math.round(performance.now() - t) }
}

import { readFileSync } from 'node:fs'
import { keccak256 } from 'viem'
import * as z from 'zod'
import { defineModel } from '../src/models/defineModel.js'
import { type CatalogPayees, resolvePayees } from './payees.js'
import { samplePath } from './samples.js'

/** Catalog id of the labelled reviews dataset. */
export const REVIEWS_CORPUS_ID = 'tributary/reviews-corpus'

/** One labelled review. */
export const reviewRecord = z.object({ text: z.string(), label: z.enum(['positive', 'negative']) })
export type ReviewRecord = z.infer<typeof reviewRecord>

let corpus: { records: ReviewRecord[]; hash: `0x${string}` } | undefined

/**
 * The bundled labelled product reviews (catalog/samples/reviews-corpus.json) and the keccak256 of the
 * file, which the dataset's card quotes so that its on-chain card hash commits to the data.
 *
 * @example
 * ```ts
 * const { records } = loadReviewsCorpus()
 * ```
 */
export function loadReviewsCorpus(): { records: ReviewRecord[]; hash: `0x${string}` } {
  if (!corpus) {
    const bytes = readFileSync(samplePath('reviews-corpus.json'))
    corpus = {
      records: z.array(reviewRecord).parse(JSON.parse(bytes.toString('utf8'))),
      hash: keccak256(bytes),
    }
  }
  return corpus
}

/**
 * A dataset listing: short product reviews labelled positive or negative. It is never called; the
 * review-sentiment model is calibrated on it and names it as a parent, so every paid review-sentiment
 * call owes the dataset its royalty.
 *
 * @example
 * ```ts
 * const dataset = createReviewsCorpusDataset({ payees: '0xf39F…' })
 * dataset.card.kind // 'dataset'
 * ```
 */
export function createReviewsCorpusDataset(options: { payees: CatalogPayees }) {
  const { records, hash } = loadReviewsCorpus()
  return defineModel({
    kind: 'dataset',
    id: REVIEWS_CORPUS_ID,
    version: '1.0.0',
    description: `${records.length} short English product reviews labelled positive or negative (file keccak256 ${hash}).`,
    capabilities: ['dataset.reviews', 'dataset.text-classification'],
    output: reviewRecord,
    terms: { pricePerCall: 0n, payees: resolvePayees(REVIEWS_CORPUS_ID, options.payees), royaltyBps: 1_500 },
    lineage: { parents: [] },
  })
}

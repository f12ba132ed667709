import vader from 'vader-sentiment'
import * as z from 'zod'
import { defineModel } from '../src/models/defineModel.js'
import { splitSentences } from './nlp.js'
import { type CatalogModelOptions, resolvePayees, timeoutOption } from './payees.js'

/** Catalog id of the sentiment model. */
export const SENTIMENT_ID = 'tributary/sentiment'

/** The conventional VADER thresholds on `compound`. */
export const POSITIVE_THRESHOLD = 0.05
export const NEGATIVE_THRESHOLD = -0.05

/** Sentiment label from a compound score. */
export function labelOf(compound: number): 'positive' | 'negative' | 'neutral' {
  return compound >= POSITIVE_THRESHOLD ? 'positive' : compound <= NEGATIVE_THRESHOLD ? 'negative' : 'neutral'
}

/** VADER scores of one sentence. */
export type SentenceScores = { text: string; compound: number; pos: number; neu: number; neg: number }

/**
 * Scores each sentence with VADER. VADER is tuned for sentence-length text; its authors recommend
 * scoring sentences and averaging for longer documents, which is what the sentiment model does.
 *
 * @example
 * ```ts
 * scoreSentences('Great sound. Awful case.').map((s) => s.compound) // [0.62…, -0.46…]
 * ```
 */
export function scoreSentences(text: string): SentenceScores[] {
  return splitSentences(text).map((s) => ({
    text: s,
    ...vader.SentimentIntensityAnalyzer.polarity_scores(s),
  }))
}

const round = (x: number) => Math.round(x * 10_000) / 10_000

/**
 * Sentiment of English text with VADER (lexicon and rules, offline): `compound` in [-1, 1], the
 * proportions `pos`, `neu`, `neg`, and a label (compound ≥ 0.05 positive, ≤ -0.05 negative). Texts
 * of several sentences are scored sentence by sentence and averaged.
 *
 * @example
 * ```ts
 * const sentiment = createSentimentModel({ payees: '0xf39F…' })
 * await sentiment.call({ text: 'I love it!' }) // { compound: 0.67, pos: 0.8, neu: 0.2, neg: 0, label: 'positive' }
 * ```
 */
export function createSentimentModel(options: CatalogModelOptions) {
  return defineModel({
    id: SENTIMENT_ID,
    version: '1.0.0',
    description:
      'Sentiment of English text (VADER lexicon and rules): compound score in [-1, 1], positive/neutral/negative proportions and a label.',
    capabilities: ['text.sentiment'],
    input: z.object({ text: z.string().min(1).max(100_000) }).strict(),
    output: z.object({
      compound: z.number().min(-1).max(1),
      pos: z.number().min(0).max(1),
      neu: z.number().min(0).max(1),
      neg: z.number().min(0).max(1),
      label: z.enum(['positive', 'neutral', 'negative']),
    }),
    terms: { pricePerCall: 2_000n, payees: resolvePayees(SENTIMENT_ID, options.payees), royaltyBps: 1_000 },
    lineage: { parents: [] },
    timeoutMs: 5_000,
    ...timeoutOption(options),
    run: async ({ text }) => {
      const scored = scoreSentences(text)
      const parts = scored.length
        ? scored
        : [{ text, ...vader.SentimentIntensityAnalyzer.polarity_scores(text) }]
      const mean = (k: 'compound' | 'pos' | 'neu' | 'neg') =>
        parts.reduce((a, s) => a + s[k], 0) / parts.length
      const compound = round(mean('compound'))
      return {
        compound,
        pos: round(mean('pos')),
        neu: round(mean('neu')),
        neg: round(mean('neg')),
        label: labelOf(compound),
      }
    },
  })
}

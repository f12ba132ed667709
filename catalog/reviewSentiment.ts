import vader from 'vader-sentiment'
import type { ItemSentence, ItsFunction } from 'wink-nlp'
import * as z from 'zod'
import { defineModel } from '../src/models/defineModel.js'
import { getNlp } from './nlp.js'
import { type CatalogModelOptions, resolvePayees, timeoutOption } from './payees.js'
import { loadReviewsCorpus, REVIEWS_CORPUS_ID } from './reviewsCorpus.js'
import { SENTIMENT_ID } from './sentiment.js'

/** Catalog id of the review-sentiment model. */
export const REVIEW_SENTIMENT_ID = 'tributary/review-sentiment'

// Phrases that carry a verdict in product reviews but that VADER's general lexicon scores as
// neutral or too weakly. Values are on VADER's compound scale and added to the sentence score.
const REVIEW_PHRASES: [RegExp, number][] = [
  [/\b(stopped|stops|quit) (working|charging)\b/i, -0.6],
  [/\b(died|broke|broken|cracked|leaks?|leaking|jammed|rattles?|faded)\b/i, -0.45],
  [/\b(returned|sent) it back\b|\breturned it\b|\brefund\b/i, -0.45],
  [/\bwaste of money\b|\bnot worth\b|\boverpriced\b|\bwould not buy\b|\bwouldn't buy\b/i, -0.6],
  [/\b(feels|felt|looks) cheap\b|\bflimsy\b|\bpoorly (made|stitched|built)\b/i, -0.45],
  [/\bmissing\b|\bnot in the box\b|\bdoes not (close|fit|work)\b/i, -0.35],
  [/\bfive stars\b|\b5 stars\b|\bworth every penny\b|\bhighly recommend\b/i, 0.6],
  [/\b(works|does) exactly\b|\bdoes (the job|what it says)\b|\bexceeded\b/i, 0.45],
  [/\bfits perfectly\b|\bsolid build\b|\bwell made\b|\bbought (a )?second\b|\bbuy it again\b/i, 0.45],
]
// Sentences that state the verdict weigh more than the ones that describe details.
const CONCLUSION = /\b(overall|in short|in summary|all in all|recommend|would (happily )?buy|verdict|still,)/i

type Label = 'positive' | 'neutral' | 'negative'

const clamp = (x: number) => Math.max(-1, Math.min(1, x))
const round = (x: number) => Math.round(x * 10_000) / 10_000

type Scored = { score: number; aspects: Map<string, number[]> }

/** The review score of a text: weighted mean of VADER + review-phrase sentence scores, and aspect scores. */
function scoreReview(text: string): Scored {
  const nlp = getNlp()
  const its = nlp.its
  const doc = nlp.readDoc(text)
  let total = 0
  let weights = 0
  const aspects = new Map<string, number[]>()
  const sentences = doc.sentences()
  const count = sentences.length()
  sentences.each((s: ItemSentence, k: number) => {
    const sentence = (s.out() as string).trim()
    if (!sentence) return
    let score = vader.SentimentIntensityAnalyzer.polarity_scores(sentence).compound
    for (const [re, v] of REVIEW_PHRASES) if (re.test(sentence)) score += v
    score = clamp(score)
    // the last sentence and explicit verdicts count double: reviews end on their conclusion
    const weight = CONCLUSION.test(sentence) || (k === count - 1 && count > 1) ? 2 : 1
    total += weight * score
    weights += weight
    const tokens = s.tokens()
    const pos = tokens.out(its.pos) as string[]
    const lemmas = tokens.out(its.lemma as unknown as ItsFunction<string>) as string[]
    const stop = tokens.out(its.stopWordFlag) as boolean[]
    pos.forEach((p, i) => {
      const lemma = (lemmas[i] ?? '').toLowerCase()
      if (p !== 'NOUN' || stop[i] || lemma.length < 3) return
      const list = aspects.get(lemma) ?? []
      list.push(score)
      aspects.set(lemma, list)
    })
  })
  return { score: weights ? total / weights : 0, aspects }
}

/**
 * Calibrates the decision threshold on the labelled corpus: the midpoint that best separates the
 * positive from the negative reviews' scores (ties broken towards 0).
 */
function calibrate(): { threshold: number; accuracy: number } {
  const scored = loadReviewsCorpus().records.map((r) => ({
    score: scoreReview(r.text).score,
    label: r.label,
  }))
  const candidates = [...new Set(scored.map((s) => s.score))].sort((a, b) => a - b)
  let best = { threshold: 0, accuracy: -1 }
  for (let i = 0; i <= candidates.length; i++) {
    const lo = candidates[i - 1] ?? -1
    const hi = candidates[i] ?? 1
    const threshold = (lo + hi) / 2
    const correct = scored.filter((s) => (s.score > threshold ? 'positive' : 'negative') === s.label).length
    const accuracy = correct / scored.length
    if (
      accuracy > best.accuracy ||
      (accuracy === best.accuracy && Math.abs(threshold) < Math.abs(best.threshold))
    )
      best = { threshold, accuracy }
  }
  return { threshold: round(best.threshold), accuracy: best.accuracy }
}

let calibration: { threshold: number; accuracy: number } | undefined

/**
 * The threshold fitted on tributary/reviews-corpus and the training accuracy it reaches.
 *
 * @example
 * ```ts
 * reviewCalibration() // { threshold: 0.0…, accuracy: 1 }
 * ```
 */
export function reviewCalibration(): { threshold: number; accuracy: number } {
  calibration ??= calibrate()
  return calibration
}

/**
 * Review sentiment, derived from tributary/sentiment (VADER) and calibrated on
 * tributary/reviews-corpus: sentence scores from VADER plus a review-phrase lexicon ("stopped working",
 * "worth every penny"), the verdict sentences weighted double, a decision threshold fitted on the
 * corpus, a 1–5 star estimate, and per-aspect scores for the nouns the review talks about. Its lineage
 * names both parents, so each paid call owes them their royalties.
 *
 * @example
 * ```ts
 * const reviews = createReviewSentimentModel({ payees: '0xf39F…' })
 * await reviews.call({ text: 'Stopped working after a week.' }) // { label: 'negative', rating: 1, … }
 * ```
 */
export function createReviewSentimentModel(options: CatalogModelOptions) {
  return defineModel({
    id: REVIEW_SENTIMENT_ID,
    version: '1.0.0',
    description:
      'Sentiment of product reviews: VADER (tributary/sentiment) with a review-phrase lexicon and verdict weighting, calibrated on tributary/reviews-corpus; label, 1-5 star estimate and aspect scores.',
    capabilities: ['text.sentiment', 'text.review-sentiment'],
    input: z.object({ text: z.string().min(1).max(100_000) }).strict(),
    output: z.object({
      label: z.enum(['positive', 'neutral', 'negative']),
      compound: z.number().min(-1).max(1),
      rating: z.number().int().min(1).max(5),
      aspects: z.array(
        z.object({
          aspect: z.string(),
          compound: z.number().min(-1).max(1),
          label: z.enum(['positive', 'neutral', 'negative']),
        }),
      ),
    }),
    terms: {
      pricePerCall: 3_000n,
      payees: resolvePayees(REVIEW_SENTIMENT_ID, options.payees),
      royaltyBps: 500,
    },
    lineage: { parents: [SENTIMENT_ID, REVIEWS_CORPUS_ID] },
    timeoutMs: 5_000,
    ...timeoutOption(options),
    run: async ({ text }) => {
      const { threshold } = reviewCalibration()
      const { score, aspects } = scoreReview(text)
      const margin = score - threshold
      const label: Label = margin > 0.05 ? 'positive' : margin < -0.05 ? 'negative' : 'neutral'
      const compound = round(clamp(score))
      const rating = Math.max(1, Math.min(5, Math.round(((compound + 1) / 2) * 4 + 1)))
      const aspectList = [...aspects.entries()]
        .map(([aspect, scores]) => {
          const c = round(clamp(scores.reduce((a, x) => a + x, 0) / scores.length))
          const l: Label = c >= 0.05 ? 'positive' : c <= -0.05 ? 'negative' : 'neutral'
          return { aspect, compound: c, label: l }
        })
        .sort((a, b) => Math.abs(b.compound) - Math.abs(a.compound) || a.aspect.localeCompare(b.aspect))
        .slice(0, 8)
      return { label, compound, rating, aspects: aspectList }
    },
  })
}

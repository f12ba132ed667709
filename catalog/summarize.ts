import type { ItemSentence, ItsFunction } from 'wink-nlp'
import * as z from 'zod'
import { defineModel } from '../src/models/defineModel.js'
import { getNlp } from './nlp.js'
import { type CatalogModelOptions, resolvePayees, timeoutOption } from './payees.js'

/** Catalog id of the extractive summarizer. */
export const SUMMARIZE_ID = 'tributary/summarize'

const DAMPING = 0.85
const MAX_ITERATIONS = 100
const EPSILON = 1e-6

/** A sentence chosen for the summary, with its TextRank score and position in the text. */
export type RankedSentence = { index: number; text: string; score: number }

/**
 * Ranks the sentences of a text with TextRank (Mihalcea & Tarau, 2004): sentences are nodes, edges
 * are weighted by content-word overlap normalised by sentence length (|Si ∩ Sj| / (log|Si| + log|Sj|)),
 * and scores are the stationary weights of a damped PageRank walk. Content words are wink-nlp's
 * lemmas of tokens that are words and not stop words. Ties (sentences sharing no words, as in short
 * texts) go to the sentence with more content words, then to the earlier one.
 *
 * @example
 * ```ts
 * rankSentences(article).slice(0, 3) // the three most central sentences, best first
 * ```
 */
export function rankSentences(text: string): RankedSentence[] {
  const nlp = getNlp()
  const its = nlp.its
  const doc = nlp.readDoc(text)
  const sentences: { text: string; words: Set<string> }[] = []
  doc.sentences().each((s: ItemSentence) => {
    const tokens = s.tokens()
    const types = tokens.out(its.type) as string[]
    const stop = tokens.out(its.stopWordFlag) as boolean[]
    const lemmas = tokens.out(its.lemma as unknown as ItsFunction<string>) as string[]
    const words = new Set<string>()
    lemmas.forEach((l, k) => {
      if (types[k] === 'word' && !stop[k] && l.length > 1) words.add(l.toLowerCase())
    })
    // OCR output breaks lines inside sentences; a summary reads better on one line
    const t = (s.out() as string).replace(/\s+/g, ' ').trim()
    if (t) sentences.push({ text: t, words })
  })
  const n = sentences.length
  if (n === 0) return []
  const weights = Array.from({ length: n }, () => new Float64Array(n))
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const a = sentences[i]?.words ?? new Set<string>()
      const b = sentences[j]?.words ?? new Set<string>()
      let overlap = 0
      for (const w of a) if (b.has(w)) overlap++
      const norm = Math.log(a.size + 1) + Math.log(b.size + 1)
      const w = overlap && norm > 0 ? overlap / norm : 0
      ;(weights[i] as Float64Array)[j] = w
      ;(weights[j] as Float64Array)[i] = w
    }
  }
  const outSum = weights.map((row) => row.reduce((a, x) => a + x, 0))
  let scores = new Float64Array(n).fill(1 / n)
  for (let iter = 0; iter < MAX_ITERATIONS; iter++) {
    const next = new Float64Array(n)
    let delta = 0
    for (let i = 0; i < n; i++) {
      let sum = 0
      for (let j = 0; j < n; j++) {
        const wji = (weights[j] as Float64Array)[i] as number
        const out = outSum[j] as number
        // a sentence sharing no words spreads its weight evenly (dangling node)
        sum += out > 0 ? (wji / out) * (scores[j] as number) : (scores[j] as number) / n
      }
      next[i] = (1 - DAMPING) / n + DAMPING * sum
      delta += Math.abs((next[i] as number) - (scores[i] as number))
    }
    scores = next
    if (delta < EPSILON) break
  }
  // Sentences that share no words (short texts) tie; among equals, prefer the one that says more.
  return sentences
    .map((s, index) => ({
      index,
      text: s.text,
      score: Math.round((scores[index] as number) * 1e6) / 1e6,
      content: s.words.size,
    }))
    .sort((a, b) => b.score - a.score || b.content - a.content || a.index - b.index)
    .map(({ index, text, score }) => ({ index, text, score }))
}

/**
 * Extractive summary of English text with TextRank over wink-nlp sentences and lemmas, offline:
 * the `maxSentences` most central sentences, in their original order.
 *
 * @example
 * ```ts
 * const summarize = createSummarizerModel({ payees: '0xf39F…' })
 * const { summary } = await summarize.call({ text: article, maxSentences: 2 })
 * ```
 */
export function createSummarizerModel(options: CatalogModelOptions) {
  return defineModel({
    id: SUMMARIZE_ID,
    version: '1.0.0',
    description:
      'Extractive summary of English text: the most central sentences by TextRank (lemma overlap graph, damped PageRank), in original order.',
    capabilities: ['text.summarize'],
    input: z
      .object({
        text: z.string().min(1).max(100_000),
        maxSentences: z.number().int().min(1).max(20).default(3),
      })
      .strict(),
    output: z.object({
      summary: z.string(),
      sentences: z.array(z.object({ index: z.number().int().min(0), text: z.string(), score: z.number() })),
    }),
    terms: { pricePerCall: 4_000n, payees: resolvePayees(SUMMARIZE_ID, options.payees), royaltyBps: 500 },
    lineage: { parents: [] },
    timeoutMs: 10_000,
    ...timeoutOption(options),
    run: async ({ text, maxSentences }) => {
      const chosen = rankSentences(text)
        .slice(0, maxSentences)
        .sort((a, b) => a.index - b.index)
      return { summary: chosen.map((s) => s.text).join(' '), sentences: chosen }
    },
  })
}

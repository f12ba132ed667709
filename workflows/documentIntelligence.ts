import { z } from 'zod'
import { model } from '../src/workflow/model.js'
import { workflow } from '../src/workflow/workflow.js'

const Text = z.object({ text: z.string().min(1) })
const Label = z.enum(['positive', 'neutral', 'negative'])

/**
 * Document intelligence over marketplace models: image → OCR → language → (review sentiment ∥ entities)
 * → extractive summary. Review sentiment is a derivative (of tributary/sentiment, trained on the
 * tributary/reviews-corpus dataset), so settling a run also pays those two ancestors.
 *
 * @example
 * ```ts
 * const r = await run(documentIntelligence, { image: pngBase64 }, { directory, caller, settler, budget: 50_000n })
 * ```
 */
export const documentIntelligence = workflow({
  id: 'document-intelligence',
  input: z.object({
    /** A PNG of printed text, base64. */
    image: z.string().min(1),
    maxSentences: z.number().int().min(1).max(5).default(2),
  }),
})
  .step(
    'ocr',
    model('tributary/ocr@^1', {
      input: z.object({ image: z.string() }),
      output: z.object({ text: z.string(), confidence: z.number() }),
      timeoutMs: 30_000,
    }),
    ($) => ({ image: $.input.image }),
  )
  .step(
    'language',
    model('tributary/language-id@^1', {
      input: Text,
      output: z.object({ language: z.string(), probability: z.number(), isReliable: z.boolean() }),
    }),
    ($) => ({ text: $.steps.ocr.text }),
  )
  .parallel('analysis', (b) => ({
    sentiment: b.step(
      model('tributary/review-sentiment@^1', {
        input: Text,
        output: z.object({ label: Label, compound: z.number(), rating: z.number() }),
      }),
      ($) => ({ text: $.steps.ocr.text }),
    ),
    entities: b.step(
      model('tributary/entities@^1', {
        input: Text,
        output: z.object({ entities: z.array(z.object({ value: z.string(), type: z.string() })) }),
      }),
      ($) => ({ text: $.steps.ocr.text }),
    ),
  }))
  .step(
    'summary',
    model('tributary/summarize@^1', {
      input: z.object({ text: z.string(), maxSentences: z.number() }),
      output: z.object({ summary: z.string() }),
    }),
    ($) => ({ text: $.steps.ocr.text, maxSentences: $.input.maxSentences }),
  )
  .output(($) => ({
    text: $.steps.ocr.text,
    ocrConfidence: $.steps.ocr.confidence,
    language: $.steps.language.language,
    sentiment: $.steps.analysis.sentiment.label,
    rating: $.steps.analysis.sentiment.rating,
    entities: $.steps.analysis.entities.entities,
    summary: $.steps.summary.summary,
  }))

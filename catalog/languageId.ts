import { type CldFactory, type LanguageIdentifier, loadModule } from 'cld3-asm'
import * as z from 'zod'
import { defineModel } from '../src/models/defineModel.js'
import { type CatalogModelOptions, resolvePayees, timeoutOption } from './payees.js'

/** Catalog id of the language identification model. */
export const LANGUAGE_ID_ID = 'tributary/language-id'

/** Bytes of text cld3 looks at; it predicts from a prefix, as Chrome does. */
const MAX_BYTES = 1_000

/**
 * Language identification with Google's CLD3 neural model (cld3-asm, WASM), offline. Returns an
 * ISO 639 code (`en`, `de`, `fr`, `zh-Latn`…, or `und` when undecidable), the model's probability
 * and whether CLD3 considers the prediction reliable. The WASM module is loaded on first use.
 *
 * @example
 * ```ts
 * const langId = createLanguageIdModel({ payees: '0xf39F…' })
 * await langId.call({ text: 'Der Zug hatte Verspätung.' }) // { language: 'de', probability: 0.99…, isReliable: true }
 * ```
 */
export function createLanguageIdModel(options: CatalogModelOptions) {
  let identifier: Promise<LanguageIdentifier> | undefined
  const getIdentifier = () => {
    identifier ??= loadModule().then((f: CldFactory) => f.create(0, MAX_BYTES))
    return identifier
  }
  return defineModel({
    id: LANGUAGE_ID_ID,
    version: '1.0.0',
    description:
      'Identifies the language of a text (CLD3 neural network, 100+ languages): ISO 639 code, probability, reliability.',
    capabilities: ['text.language-id'],
    input: z.object({ text: z.string().min(1).max(100_000) }).strict(),
    output: z.object({
      language: z.string().min(2).max(16).describe("ISO 639-1/-2 code, or 'und'"),
      probability: z.number().min(0).max(1),
      isReliable: z.boolean(),
    }),
    terms: { pricePerCall: 1_000n, payees: resolvePayees(LANGUAGE_ID_ID, options.payees), royaltyBps: 500 },
    lineage: { parents: [] },
    timeoutMs: 5_000,
    ...timeoutOption(options),
    run: async ({ text }) => {
      const r = (await getIdentifier()).findLanguage(text)
      return { language: String(r.language), probability: r.probability, isReliable: r.is_reliable }
    },
    close: async () => {
      const id = identifier
      identifier = undefined
      ;(await id?.catch(() => undefined))?.dispose()
    },
  })
}

import model from 'wink-eng-lite-web-model'
import winkNLP from 'wink-nlp'

type Nlp = ReturnType<typeof winkNLP>

let nlp: Nlp | undefined

/**
 * The shared wink-nlp pipeline (English lite web model: tokenizer, sentence boundaries, POS tagger,
 * pattern entities). Loading it takes ~0.2 s, so it is created once, on first use, and shared by the
 * entity, summarizer and review models.
 *
 * @example
 * ```ts
 * const doc = getNlp().readDoc('Hello there. How are you?')
 * doc.sentences().out() // ['Hello there.', 'How are you?']
 * ```
 */
export function getNlp(): Nlp {
  nlp ??= winkNLP(model)
  return nlp
}

/**
 * Splits text into sentences with wink-nlp's sentence boundary detection.
 *
 * @example
 * ```ts
 * splitSentences('It works. Mostly!') // ['It works.', 'Mostly!']
 * ```
 */
export function splitSentences(text: string): string[] {
  return getNlp()
    .readDoc(text)
    .sentences()
    .out()
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
}

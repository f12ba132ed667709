import type { ItemEntity, ItemSentence } from 'wink-nlp'
import * as z from 'zod'
import { defineModel } from '../src/models/defineModel.js'
import { getNlp } from './nlp.js'
import { type CatalogModelOptions, resolvePayees, timeoutOption } from './payees.js'

/** Catalog id of the named-entity model. */
export const ENTITIES_ID = 'tributary/entities'

/** Entity types the model reports: wink-nlp's pattern entities plus typed proper-noun phrases. */
export const ENTITY_TYPES = [
  'PERSON',
  'PLACE',
  'ORGANIZATION',
  'MISC',
  'DATE',
  'TIME',
  'DURATION',
  'MONEY',
  'PERCENT',
  'CARDINAL',
  'ORDINAL',
  'EMAIL',
  'URL',
  'HASHTAG',
  'MENTION',
  'EMOJI',
] as const
export type EntityType = (typeof ENTITY_TYPES)[number]

// Cues for typing proper-noun phrases. The lite English model tags parts of speech but has no
// statistical person/place recogniser, so phrases found by the POS tagger are typed from their
// context (titles, locative prepositions, reporting verbs, organisation suffixes) and a small gazetteer.
const TITLES = new Set(
  'mr mrs ms miss dr prof professor sir dame lord lady president chancellor minister senator governor mayor king queen prince princess judge ceo chairman chairwoman director general captain officer coach pope'.split(
    ' ',
  ),
)
const ORG_SUFFIXES = new Set(
  'inc inc. corp corp. corporation ltd ltd. llc plc gmbh ag sa co co. company group bank university institute college school agency ministry council committee foundation association union party labs laboratories systems technologies motors airlines airways energy audio press news times post network partners holdings capital industries electronics pharmaceuticals insurance hospital club fc department commission authority court'.split(
    ' ',
  ),
)
const PLACE_SUFFIXES = new Set(
  'city street road avenue river lake mountain mountains island islands county province state valley bay sea ocean coast park square bridge'.split(
    ' ',
  ),
)
const PLACES = new Set(
  `afghanistan albania algeria argentina armenia australia austria azerbaijan bangladesh belarus belgium bolivia bosnia brazil bulgaria cambodia cameroon canada chile china colombia croatia cuba cyprus czechia denmark ecuador egypt england estonia ethiopia europe africa asia america finland france georgia germany ghana greece hungary iceland india indonesia iran iraq ireland israel italy jamaica japan jordan kazakhstan kenya korea kosovo latvia lebanon libya lithuania luxembourg malaysia mali malta mexico moldova monaco mongolia montenegro morocco nepal netherlands nigeria norway pakistan panama paraguay peru philippines poland portugal qatar romania russia scotland senegal serbia singapore slovakia slovenia somalia spain sudan sweden switzerland syria taiwan tanzania thailand tunisia turkey uganda ukraine uruguay uzbekistan venezuela vietnam wales yemen zambia zimbabwe
  amsterdam athens bangkok barcelona beijing berlin bern bonn boston brussels bucharest budapest cairo chicago cologne copenhagen delhi dubai dublin edinburgh florence frankfurt geneva hamburg helsinki istanbul jakarta jerusalem kyiv lagos lisbon london los madrid manchester marseille melbourne miami milan montreal moscow mumbai munich nairobi naples oslo paris prague rome seoul shanghai singapore stockholm strasbourg stuttgart sydney tokyo toronto valencia vancouver venice vienna warsaw washington zurich lyon bordeaux seville porto`.split(
    /\s+/,
  ),
)
const LOCATIVE = new Set([
  'in',
  'at',
  'from',
  'to',
  'near',
  'into',
  'across',
  'outside',
  'inside',
  'through',
  'via',
])
const REPORTING = new Set([
  'said',
  'says',
  'told',
  'added',
  'argued',
  'explained',
  'stated',
  'promised',
  'warned',
])
// Capitalised words the tagger sometimes calls proper nouns but which name no entity.
const NOT_NAMES = new Set(['i', 'the', 'a', 'an', 'mr', 'mrs', 'ms', 'dr'])

// wink's own entity types, mapped to ours.
const WINK_TYPES: Record<string, EntityType> = {
  DATE: 'DATE',
  TIME: 'TIME',
  DURATION: 'DURATION',
  MONEY: 'MONEY',
  PERCENT: 'PERCENT',
  CARDINAL: 'CARDINAL',
  ORDINAL: 'ORDINAL',
  EMAIL: 'EMAIL',
  URL: 'URL',
  HASHTAG: 'HASHTAG',
  MENTION: 'MENTION',
  EMOJI: 'EMOJI',
}

/** One entity found in a text. */
export type Entity = { value: string; type: EntityType }

/**
 * Finds the named entities of an English text.
 *
 * @example
 * ```ts
 * extractEntities('Dr Jane Fox flew to Oslo on Monday.')
 * // [{ value: 'Jane Fox', type: 'PERSON' }, { value: 'Oslo', type: 'PLACE' }, { value: 'Monday', type: 'DATE' }]
 * ```
 */
export function extractEntities(text: string): Entity[] {
  const nlp = getNlp()
  const its = nlp.its
  const doc = nlp.readDoc(text)
  const words = doc.tokens().out() as string[]
  const pos = doc.tokens().out(its.pos) as string[]
  const types = doc.tokens().out(its.type) as string[]
  const found: { start: number; end: number; value: string; type: EntityType }[] = []
  const taken = new Uint8Array(words.length)

  doc.entities().each((e: ItemEntity) => {
    const [start, end] = e.out(its.span) as unknown as [number, number]
    const type = WINK_TYPES[e.out(its.type) as string]
    if (!type) return
    found.push({ start, end, value: e.out() as string, type })
    taken.fill(1, start, end + 1)
  })

  // sentence-initial words are capitalised anyway, so alone they are weak evidence of a name
  const sentenceStarts = new Set<number>()
  doc.sentences().each((sentence: ItemSentence) => {
    sentenceStarts.add((sentence.out(its.span) as unknown as [number, number])[0])
  })

  const lower = (i: number) => (words[i] ?? '').toLowerCase()
  const isName = (i: number) =>
    !taken[i] &&
    pos[i] === 'PROPN' &&
    types[i] === 'word' &&
    /^[A-Z]/.test(words[i] ?? '') &&
    !NOT_NAMES.has(lower(i)) &&
    !TITLES.has(lower(i).replace(/\.$/, ''))

  const persons = new Set<string>()
  for (let i = 0; i < words.length; i++) {
    if (!isName(i)) continue
    let end = i
    // a name phrase: consecutive proper nouns, also across "of"/"&" inside organisation names
    while (end + 1 < words.length && (isName(end + 1) || ORG_SUFFIXES.has(lower(end + 1)))) end++
    const tokens = words.slice(i, end + 1)
    const value = tokens.join(' ').replace(/ \./g, '.')
    const last = lower(end).replace(/\.$/, '')
    const prev = lower(i - 1).replace(/\.$/, '')
    const next = lower(end + 1)
    const afterComma = next === ',' ? lower(end + 2) : ''
    let type: EntityType = 'MISC'
    if (ORG_SUFFIXES.has(last) && tokens.length > 1) type = 'ORGANIZATION'
    else if (TITLES.has(prev)) type = 'PERSON'
    else if (
      tokens.every((_, k) => PLACES.has(lower(i + k))) ||
      (PLACE_SUFFIXES.has(last) && tokens.length > 1)
    )
      type = 'PLACE'
    else if (REPORTING.has(next) || afterComma === 'who' || REPORTING.has(afterComma)) type = 'PERSON'
    else if (tokens.length === 1 && persons.has(tokens[0] ?? '')) type = 'PERSON'
    else if (LOCATIVE.has(prev) && tokens.length === 1) type = 'PLACE'
    else if (/^[A-Z]{2,5}$/.test(value)) type = 'ORGANIZATION'
    else if (tokens.length >= 2 && tokens.length <= 3 && tokens.every((t) => /^[A-Z][a-z]+$/.test(t)))
      type = 'PERSON'
    if (type === 'MISC' && tokens.length === 1 && (sentenceStarts.has(i) || value.length < 2)) {
      i = end
      continue
    }
    if (type === 'PERSON') for (const t of tokens) persons.add(t)
    found.push({ start: i, end, value, type })
    i = end
  }

  // a later bare surname ("Martin said…") refers to the person named in full earlier
  for (const f of found) if (f.type === 'MISC' && persons.has(f.value)) f.type = 'PERSON'
  found.sort((a, b) => a.start - b.start)
  const seen = new Set<string>()
  return found
    .filter((f) => {
      const key = `${f.type}:${f.value}`
      if (seen.has(key)) return false
      seen.add(key)
      return true
    })
    .map(({ value, type }) => ({ value, type }))
}

/**
 * Named entities in English text with wink-nlp (English lite web model), offline: dates, times,
 * amounts, percentages, e-mails, URLs and other pattern entities from wink, and people, places and
 * organisations from the part-of-speech tagger's proper-noun phrases, typed by context and a gazetteer.
 *
 * @example
 * ```ts
 * const ner = createEntitiesModel({ payees: '0xf39F…' })
 * const { entities } = await ner.call({ text: 'Anna Weber met Louis Martin in Paris.' })
 * ```
 */
export function createEntitiesModel(options: CatalogModelOptions) {
  return defineModel({
    id: ENTITIES_ID,
    version: '1.0.0',
    description:
      'Named entities in English text (wink-nlp): people, places, organisations, dates, times, money, percentages, e-mails, URLs.',
    capabilities: ['text.entities', 'text.ner'],
    input: z.object({ text: z.string().min(1).max(100_000) }).strict(),
    output: z.object({
      entities: z.array(z.object({ value: z.string(), type: z.enum(ENTITY_TYPES) })),
    }),
    terms: { pricePerCall: 3_000n, payees: resolvePayees(ENTITIES_ID, options.payees), royaltyBps: 800 },
    lineage: { parents: [] },
    timeoutMs: 5_000,
    ...timeoutOption(options),
    run: async ({ text }) => ({ entities: extractEntities(text) }),
  })
}

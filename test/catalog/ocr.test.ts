import { readFileSync } from 'node:fs'
import { PNG } from 'pngjs'
import { afterAll, describe, expect, test } from 'vitest'
import { createOcrModel, loadSampleDocument, OCR_ID } from '../../catalog/index.js'
import { cardSchema } from '../../src/market/card.js'
import { InvalidModelInputError, ModelRunError } from '../../src/models/errors.js'

const payee = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const ocr = createOcrModel({ payees: payee })

afterAll(async () => {
  await ocr.close()
})

/** Share of the reference words found in the recognised text (multiset intersection). */
function wordAccuracy(reference: string, recognised: string): number {
  const words = (s: string) => s.toLowerCase().match(/[a-z0-9]+/g) ?? []
  const pool = new Map<string, number>()
  for (const w of words(recognised)) pool.set(w, (pool.get(w) ?? 0) + 1)
  const ref = words(reference)
  let hit = 0
  for (const w of ref) {
    const n = pool.get(w) ?? 0
    if (n > 0) {
      hit++
      pool.set(w, n - 1)
    }
  }
  return hit / ref.length
}

describe(OCR_ID, () => {
  test('reads the generated sample document back with high word accuracy, offline', async () => {
    const { image, text } = loadSampleDocument()
    let t = performance.now()
    const first = await ocr.call({ image })
    const coldMs = performance.now() - t
    t = performance.now()
    const second = await ocr.call({ image })
    const warmMs = performance.now() - t
    console.log(
      `[latency] ${OCR_ID}: cold ${coldMs.toFixed(0)} ms (worker start), warm ${warmMs.toFixed(0)} ms`,
    )

    const accuracy = wordAccuracy(text, first.text)
    console.log(`[accuracy] ${OCR_ID}: ${(accuracy * 100).toFixed(1)} % of ${text.split(/\s+/).length} words`)
    expect(accuracy).toBeGreaterThanOrEqual(0.95)
    expect(first.text).toContain('Maria Keller')
    expect(first.text).toContain('Nordlicht Audio')
    expect(first.confidence).toBeGreaterThan(0.8)
    expect(first.confidence).toBeLessThanOrEqual(1)
    // the same worker answers again, deterministically
    expect(second).toEqual(first)
  })

  test('recognises a second, different image with the same worker', async () => {
    // crop the first two lines of the sample: a different image, still real printed text
    const png = PNG.sync.read(readFileSync(new URL('../../catalog/samples/document.png', import.meta.url)))
    const height = 24 + 2 * 32 + 8
    const crop = new PNG({ width: png.width, height })
    PNG.bitblt(png, crop, 0, 0, png.width, height, 0, 0)
    const { text } = await ocr.call({ image: PNG.sync.write(crop).toString('base64') })
    expect(text.split('\n')).toHaveLength(2)
    expect(
      wordAccuracy('Customer report from Berlin, 12 March 2026. The new Aurora X2', text),
    ).toBeGreaterThan(0.9)
    expect(text).not.toContain('Munich')
  })

  test('refuses what is not a PNG, too large, or not base64 before running anything', async () => {
    const notPng = Buffer.from('GIF89a............................').toString('base64')
    await expect(ocr.handler({ image: notPng })).rejects.toThrow(/image is not a PNG/)
    const huge = new PNG({ width: 5_000, height: 1_000 })
    const hugeB64 = PNG.sync.write(huge, { colorType: 0 }).toString('base64')
    const err = await ocr.handler({ image: hugeB64 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidModelInputError)
    expect((err as Error).message).toMatch(/5000x1000; at most 4000000 pixels/)
    await expect(ocr.handler({ image: 'data:image/png;base64,AAAA' })).rejects.toThrow(/must be base64/)
    await expect(ocr.handler({ image: 'A'.repeat(4 * 1024 * 1024 + 4) })).rejects.toThrow(/larger than 4 MiB/)
  })

  test('publishes a valid card with a base64 image input', () => {
    expect(cardSchema.safeParse(ocr.card).success).toBe(true)
    expect(ocr.card.input).toMatchObject({
      type: 'object',
      properties: { image: { type: 'string', maxLength: 4 * 1024 * 1024 } },
      required: ['image'],
    })
    expect(ocr.card.terms).toMatchObject({ pricePerCall: '5000', royaltyBps: 500 })
  })

  test('a closed model starts no new worker', async () => {
    const model = createOcrModel({ payees: payee })
    await model.close()
    const err = await model.handler({ image: loadSampleDocument().image }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ModelRunError)
    expect((err as Error).message).toMatch(/was closed; create a new model/)
  })
})

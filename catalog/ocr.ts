import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import Tesseract from 'tesseract.js'
import * as z from 'zod'
import { defineModel } from '../src/models/defineModel.js'
import { type CatalogModelOptions, resolvePayees, timeoutOption } from './payees.js'

/** Catalog id of the OCR model. */
export const OCR_ID = 'tributary/ocr'

/** Largest accepted image: 4 MiB of base64 (3 MiB of PNG). */
export const OCR_MAX_BASE64_CHARS = 4 * 1024 * 1024
/** Largest accepted image area; bounds decompression and recognition time. */
export const OCR_MAX_PIXELS = 4_000_000

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

/** Reads width and height from a PNG header without decoding the image; undefined if it is not a PNG. */
function pngSize(base64: string): { width: number; height: number } | undefined {
  const head = Buffer.from(base64.slice(0, 44), 'base64')
  if (head.length < 24 || PNG_SIGNATURE.some((b, i) => head[i] !== b)) return undefined
  if (head.toString('latin1', 12, 16) !== 'IHDR') return undefined
  return { width: head.readUInt32BE(16), height: head.readUInt32BE(20) }
}

const ocrInput = z
  .object({
    image: z
      .string()
      .max(OCR_MAX_BASE64_CHARS, 'image is larger than 4 MiB of base64')
      .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'image must be base64 (no data: prefix, no line breaks)')
      .describe('PNG image, base64-encoded'),
  })
  .strict()
  .superRefine(({ image }, ctx) => {
    const size = pngSize(image)
    if (!size) ctx.addIssue({ code: 'custom', path: ['image'], message: 'image is not a PNG' })
    else if (size.width * size.height > OCR_MAX_PIXELS)
      ctx.addIssue({
        code: 'custom',
        path: ['image'],
        message: `image is ${size.width}x${size.height}; at most ${OCR_MAX_PIXELS} pixels are accepted`,
      })
  })

const ocrOutput = z.object({
  text: z.string().describe('recognised text, lines separated by \\n'),
  confidence: z.number().min(0).max(1).describe("Tesseract's mean word confidence, scaled to 0..1"),
})

/** Where @tesseract.js-data/eng keeps its gzipped LSTM data: read from disk, never from a CDN. */
function localLangPath(): string {
  const require = createRequire(import.meta.url)
  // 4.0.0_best_int: the integer-quantised LSTM model (2.9 MB), the one tesseract.js picks for LSTM_ONLY
  return join(dirname(require.resolve('@tesseract.js-data/eng/package.json')), '4.0.0_best_int')
}

/**
 * OCR for printed English text: Tesseract 5 (tesseract.js 7, WASM) with the `eng` LSTM model loaded
 * from node_modules — no network. One worker is created on the first call, reused, and terminated by
 * `close()`. A call that times out or is aborted is answered at once; Tesseract cannot cancel a job,
 * so the worker finishes it in the background before taking the next one.
 *
 * @example
 * ```ts
 * const ocr = createOcrModel({ payees: '0xf39F…' })
 * const { text } = await ocr.call({ image: readFileSync('scan.png').toString('base64') })
 * await ocr.close()
 * ```
 */
export function createOcrModel(options: CatalogModelOptions) {
  let worker: Promise<Tesseract.Worker> | undefined
  let closed = false
  const getWorker = () => {
    // a closed model must not start a worker that nothing would terminate
    if (closed) throw new Error(`${OCR_ID} was closed; create a new model to recognise more images`)
    worker ??= Tesseract.createWorker('eng', Tesseract.OEM.LSTM_ONLY, {
      langPath: localLangPath(),
      gzip: true,
      // 'none': neither read nor write a cached copy of the language data (no stray files in cwd)
      cacheMethod: 'none',
    }).catch((e: unknown) => {
      worker = undefined
      throw e
    })
    return worker
  }
  return defineModel({
    id: OCR_ID,
    version: '1.0.0',
    description:
      'Optical character recognition of printed English text in a PNG image (Tesseract 5 LSTM, eng model), run offline.',
    capabilities: ['ocr', 'image.to-text'],
    input: ocrInput,
    output: ocrOutput,
    terms: { pricePerCall: 5_000n, payees: resolvePayees(OCR_ID, options.payees), royaltyBps: 500 },
    lineage: { parents: [] },
    timeoutMs: 20_000,
    ...timeoutOption(options),
    run: async ({ image }) => {
      const w = await getWorker()
      const { data } = await w.recognize(Buffer.from(image, 'base64'))
      return { text: data.text.trim(), confidence: Math.max(0, Math.min(1, data.confidence / 100)) }
    },
    close: async () => {
      closed = true
      const w = worker
      worker = undefined
      // a worker that failed to start has nothing to terminate
      const started = await w?.catch(() => undefined)
      await started?.terminate()
    },
  })
}

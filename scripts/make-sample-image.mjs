#!/usr/bin/env node
// Renders the OCR sample, catalog/samples/document.png: a paragraph of printed text, black on white,
// set in DejaVu Sans (dev dependency dejavu-fonts-ttf) and rasterised here — glyph outlines from
// opentype.js, filled with the non-zero rule at 4x resolution and box-filtered down for anti-aliasing.
// No system fonts, no canvas, no network. The text is also written to document.txt, the ground truth
// the OCR test scores against. Run: node scripts/make-sample-image.mjs
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import opentype from 'opentype.js'
import { PNG } from 'pngjs'

const require = createRequire(import.meta.url)
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, 'catalog', 'samples')

export const TEXT =
  'Customer report from Berlin, 12 March 2026. ' +
  'The new Aurora X2 headphones from Nordlicht Audio are excellent: the sound is clear and the battery ' +
  'lasts a whole week. Maria Keller, who tested them on the train to Munich, said the noise cancelling ' +
  'works very well. Sadly, the carrying case feels cheap and the phone app crashed twice. ' +
  'Overall we are happy with this purchase and would recommend it to friends.'

const FONT_SIZE = 22 // px; Tesseract's LSTM reads best with an x-height around 10-20 px
const LINE_HEIGHT = 32
const MARGIN = 24
const WIDTH = 820
const SS = 4 // supersampling factor per axis

const font = opentype.parse(readFileSync(require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf')).buffer)
const scale = (size) => size / font.unitsPerEm

// Simple left-to-right layout (advance widths and pair kerning). opentype.js's own shaper trips over
// DejaVu's contextual substitution tables, and plain Latin text needs none of them.
function layout(text, size, visit) {
  let x = 0
  let prev
  for (const ch of text) {
    const glyph = font.charToGlyph(ch)
    if (prev) x += font.getKerningValue(prev, glyph) * scale(size)
    visit?.(glyph, x)
    x += glyph.advanceWidth * scale(size)
    prev = glyph
  }
  return x
}

/** Greedy word wrap by advance width. */
function wrap(text, maxWidth) {
  const lines = []
  let line = ''
  for (const word of text.split(/\s+/)) {
    const next = line ? `${line} ${word}` : word
    if (line && layout(next, FONT_SIZE) > maxWidth) {
      lines.push(line)
      line = word
    } else line = next
  }
  if (line) lines.push(line)
  return lines
}

/** Flattens an opentype.js path into closed polygons (quadratic and cubic curves subdivided). */
function polygons(path) {
  const polys = []
  let cur = []
  let x = 0
  let y = 0
  const steps = 8
  for (const c of path.commands) {
    if (c.type === 'M') {
      if (cur.length > 2) polys.push(cur)
      cur = [[c.x, c.y]]
    } else if (c.type === 'L') cur.push([c.x, c.y])
    else if (c.type === 'Q') {
      for (let i = 1; i <= steps; i++) {
        const t = i / steps
        const u = 1 - t
        cur.push([u * u * x + 2 * u * t * c.x1 + t * t * c.x, u * u * y + 2 * u * t * c.y1 + t * t * c.y])
      }
    } else if (c.type === 'C') {
      for (let i = 1; i <= steps; i++) {
        const t = i / steps
        const u = 1 - t
        cur.push([
          u * u * u * x + 3 * u * u * t * c.x1 + 3 * u * t * t * c.x2 + t * t * t * c.x,
          u * u * u * y + 3 * u * u * t * c.y1 + 3 * u * t * t * c.y2 + t * t * t * c.y,
        ])
      }
    } else if (c.type === 'Z') {
      if (cur.length > 2) polys.push(cur)
      cur = []
    }
    if (c.type !== 'Z') {
      x = c.x
      y = c.y
    }
  }
  if (cur.length > 2) polys.push(cur)
  return polys
}

/** Non-zero winding scanline fill of polygons into a w×h coverage mask (1 byte per pixel). */
function fill(polys, w, h) {
  const mask = new Uint8Array(w * h)
  const edges = []
  for (const p of polys) {
    for (let i = 0; i < p.length; i++) {
      const [x0, y0] = p[i]
      const [x1, y1] = p[(i + 1) % p.length]
      if (y0 === y1) continue
      edges.push(
        y0 < y1 ? { ya: y0, yb: y1, xa: x0, xb: x1, dir: 1 } : { ya: y1, yb: y0, xa: x1, xb: x0, dir: -1 },
      )
    }
  }
  for (let row = 0; row < h; row++) {
    const sy = row + 0.5
    const hits = []
    for (const e of edges) {
      if (sy < e.ya || sy >= e.yb) continue
      hits.push({ x: e.xa + ((sy - e.ya) / (e.yb - e.ya)) * (e.xb - e.xa), dir: e.dir })
    }
    hits.sort((a, b) => a.x - b.x)
    let winding = 0
    for (let i = 0; i < hits.length - 1; i++) {
      winding += hits[i].dir
      if (winding === 0) continue
      const from = Math.max(0, Math.ceil(hits[i].x - 0.5))
      const to = Math.min(w - 1, Math.floor(hits[i + 1].x - 0.5))
      for (let col = from; col <= to; col++) mask[row * w + col] = 1
    }
  }
  return mask
}

const lines = wrap(TEXT, WIDTH - 2 * MARGIN)
const height = MARGIN * 2 + LINE_HEIGHT * lines.length
const polys = []
lines.forEach((line, i) => {
  const baseline = MARGIN + FONT_SIZE + i * LINE_HEIGHT
  layout(line, FONT_SIZE * SS, (glyph, x) => {
    polys.push(...polygons(glyph.getPath(MARGIN * SS + x, baseline * SS, FONT_SIZE * SS)))
  })
})
const W = WIDTH * SS
const H = height * SS
const mask = fill(polys, W, H)

const png = new PNG({ width: WIDTH, height })
for (let y = 0; y < height; y++) {
  for (let x = 0; x < WIDTH; x++) {
    let ink = 0
    for (let dy = 0; dy < SS; dy++) {
      const base = (y * SS + dy) * W + x * SS
      for (let dx = 0; dx < SS; dx++) ink += mask[base + dx]
    }
    const v = 255 - Math.round((255 * ink) / (SS * SS))
    const o = (y * WIDTH + x) * 4
    png.data[o] = v
    png.data[o + 1] = v
    png.data[o + 2] = v
    png.data[o + 3] = 255
  }
}
const file = join(out, 'document.png')
writeFileSync(file, PNG.sync.write(png, { colorType: 0 }))
writeFileSync(join(out, 'document.txt'), `${lines.join('\n')}\n`)
console.log(`wrote ${file} (${WIDTH}x${height}, ${lines.length} lines)`)

import { describe, expect, test } from 'vitest'
import { base64Utf8, decodeHeader, encodeHeader } from '../../src/models/laneScheme.js'

describe('x402 headers (base64 JSON)', () => {
  test('encode exactly as base64 of the UTF-8 JSON, ASCII or not, and decode back', () => {
    const values = [
      { x402Version: 2, scheme: 'tributary-lane', amount: '10' },
      { description: 'héllo wörld ✓ 𝄞' },
      { edge: '\u0000\u007f\u0080\u00ff' },
      'text',
      [1, { b: 'ü' }],
    ]
    for (const v of values) {
      const header = encodeHeader(v)
      expect(header).toBe(Buffer.from(JSON.stringify(v), 'utf8').toString('base64'))
      expect(decodeHeader(header)).toEqual(v)
    }
    expect(base64Utf8('ü')).toBe('w7w=')
  })

  test('read base64url like Buffer does; anything else is not a header', () => {
    const v = { a: '??>>' }
    expect(decodeHeader(Buffer.from(JSON.stringify(v)).toString('base64url'))).toEqual(v)
    expect(decodeHeader('!!!')).toBeUndefined()
    expect(decodeHeader('')).toBeUndefined()
    expect(decodeHeader(btoa('not json'))).toBeUndefined()
  })
})

import type { Hex } from 'viem'
import { describe, expect, it } from 'vitest'
import type { LanePaymentResponse } from '../../src/models/laneScheme.js'
import { learnResponseLayout, readKnownResponse } from '../../src/models/responseLayout.js'

const h = (byte: string, n = 32) => `0x${byte.repeat(n)}` as Hex

/** A response as a provider writes it (the key order of the router's wire response). */
const response = (
  amounts: [string, string, string],
  signature: Hex,
  proof: Hex[],
  laneId = h('1c'),
  hashes: [Hex, Hex] = [h('a1'), h('b2')],
): LanePaymentResponse => ({
  x402Version: 2,
  scheme: 'tributary-lane',
  success: true,
  network: 'eip155:31337',
  payer: '0x00000000000000000000000000000000000000bB',
  provider: '0x00000000000000000000000000000000000000Cc',
  receipt: {
    laneId,
    assetId: '7',
    model: 'bench/echo',
    version: '1.0.0',
    inputHash: hashes[0],
    outputHash: hashes[1],
    amount: amounts[0],
    cumulative: amounts[1],
    voucher: amounts[2],
  },
  signature,
  proof,
})

describe('response layouts', () => {
  it('reads a response on a learnt lane exactly as JSON.parse does, with any proof', () => {
    const first = JSON.stringify(response(['10', '20', '30'], h('ab', 65), [h('01'), h('02')]))
    expect(readKnownResponse(first)).toBeUndefined()
    learnResponseLayout(first, JSON.parse(first))
    expect(readKnownResponse(first)).toEqual(JSON.parse(first))
    for (const r of [
      response(['10', '30', '40'], h('cd', 65), [h('03')], h('1c'), [h('0F'), h('e0')]),
      response(['10', '40', '50'], h('EF', 65), []),
      response(
        ['123456789012345678901234567890', '1', '0'],
        h('56', 65),
        Array.from({ length: 32 }, () => h('77')),
      ),
    ]) {
      const text = JSON.stringify(r)
      expect(readKnownResponse(text)).toEqual(JSON.parse(text))
    }
  })

  it('leaves everything else to the full parse: other lanes, models, layouts, formats and sizes', () => {
    const r = response(['10', '20', '30'], h('ab', 65), [h('01')])
    const text = JSON.stringify(r)
    learnResponseLayout(text, JSON.parse(text))
    const variants = [
      JSON.stringify(response(['10', '20', '30'], h('ab', 65), [h('01')], h('2c'))), // another lane
      text.replace('"model":"bench/echo"', '"model":"bench/other"'),
      text.replace('"version":"1.0.0"', '"version":"1.0.1"'),
      text.replace('"success":true', '"success":false'),
      JSON.stringify(JSON.parse(text), null, 1), // whitespace
      text.replace('"amount":"10"', '"amount":"1\\u0030"'), // an escape
      text.replace('"amount":"10"', '"amount":"1a"'),
      text.replace('"cumulative":"20"', '"cumulative":""'),
      text.replace('"voucher":"30"', `"voucher":"${'9'.repeat(31)}"`),
      text.replace('"voucher":"30"', '"voucher":30'),
      text.replace(h('a1'), h('a1', 31)),
      text.replace(h('b2'), `${h('b2')}b2`),
      text.replace(h('ab', 65), h('ab', 64)),
      text.replace(h('ab', 65), h('zz', 65)),
      text.replace(h('01'), h('01', 31)),
      text.replace(`["${h('01')}"]`, `["${h('01')}",]`),
      text.replace(`["${h('01')}"]`, JSON.stringify(Array.from({ length: 33 }, () => h('01')))),
      text.replace(`,"proof":["${h('01')}"]`, ''),
      text.replace('"voucher":"30"}', '"voucher":"30","extra":1}'),
      `${text} `,
      `${text.slice(0, -1)},"extra":1}`,
    ]
    for (const v of variants) expect(readKnownResponse(v)).toBeUndefined()
  })

  it('learns nothing from a text that is not written the way a provider writes it', () => {
    const r = response(['10', '20', '30'], h('ab', 65), [], h('3c'))
    learnResponseLayout(JSON.stringify(r, null, 2), r)
    expect(readKnownResponse(JSON.stringify(r))).toBeUndefined()
    const reordered = JSON.stringify({ ...r, receipt: { ...r.receipt, amount: undefined }, amount: '10' })
    learnResponseLayout(reordered, JSON.parse(reordered))
    expect(readKnownResponse(JSON.stringify(r))).toBeUndefined()
    const numbers = JSON.stringify({ ...r, receipt: { ...r.receipt, amount: 10 } })
    learnResponseLayout(numbers, JSON.parse(numbers))
    expect(readKnownResponse(JSON.stringify(r))).toBeUndefined()
  })

  it('never reads a text differently from JSON.parse (one character changed anywhere)', () => {
    const base = JSON.stringify(response(['10', '1000', '1010'], h('ab', 65), [h('01'), h('02')], h('4c')))
    learnResponseLayout(base, JSON.parse(base))
    const alphabet = '0123456789abcdefABx:",[]{} \\'
    let read = 0
    for (let i = 0; i < base.length; i++)
      for (const c of alphabet) {
        const text = base.slice(0, i) + c + base.slice(i + 1)
        const fast = readKnownResponse(text)
        if (fast === undefined) continue
        read++
        expect(fast).toEqual(JSON.parse(text))
      }
    // the hashes, amounts, signature and proof digits may change; nothing else may
    expect(read).toBeGreaterThan(500)
  })
})

import type { Hex } from 'viem'
import { describe, expect, it } from 'vitest'
import type { LanePaymentPayload } from '../../src/models/laneScheme.js'
import { learnPaymentLayout, readKnownPayment } from '../../src/models/paymentLayout.js'

const h = (byte: string, n = 32) => `0x${byte.repeat(n)}` as Hex

/** A payment as a wallet writes it (the key order of callModel's payment payload). */
const payment = (
  cumulative: string,
  signature: Hex,
  proof?: Hex[],
  laneId = h('1c'),
): LanePaymentPayload => ({
  x402Version: 2,
  scheme: 'tributary-lane',
  network: 'eip155:31337',
  payload: {
    ledger: '0x00000000000000000000000000000000000000Aa',
    laneId,
    cumulative,
    signature,
    ...(proof ? { proof } : {}),
    lane: {
      payer: '0x00000000000000000000000000000000000000bB',
      token: '0x00000000000000000000000000000000000000cc',
      modelId: '7',
      termsVersion: 1,
      seq: '0',
      lineageHash: h('d0'),
    },
  },
})

describe('payment layouts', () => {
  it('reads a payment on a learnt lane exactly as JSON.parse does, with or without a proof', () => {
    const first = JSON.stringify(payment('10', h('ab', 65), [h('01'), h('02')]))
    expect(readKnownPayment(first)).toBeUndefined()
    learnPaymentLayout(first, JSON.parse(first))
    expect(readKnownPayment(first)).toEqual(JSON.parse(first))
    for (const p of [
      payment('20', h('cd', 65), [h('03')]),
      payment('30', h('EF', 65), [h('0A'), h('0b'), h('0c')]),
      payment('40', h('12', 65)),
      payment('50', h('34', 65), []),
      payment(
        '123456789012345678901234567890',
        h('56', 65),
        Array.from({ length: 32 }, () => h('77')),
      ),
    ]) {
      const text = JSON.stringify(p)
      expect(readKnownPayment(text)).toEqual(JSON.parse(text))
    }
  })

  it('leaves everything else to the full parse: other lanes, layouts, formats and sizes', () => {
    const text = JSON.stringify(payment('10', h('ab', 65), [h('01')]))
    learnPaymentLayout(text, JSON.parse(text))
    const variants = [
      JSON.stringify(payment('10', h('ab', 65), [h('01')], h('2c'))), // another lane
      JSON.stringify(JSON.parse(text), null, 1), // whitespace
      text.replace('"cumulative":"10"', '"cumulative":"1\\u0030"'), // an escape
      text.replace('"cumulative":"10"', '"cumulative":"1a"'),
      text.replace('"cumulative":"10"', '"cumulative":""'),
      text.replace('"cumulative":"10"', `"cumulative":"${'9'.repeat(31)}"`),
      text.replace(h('ab', 65), h('ab', 64)),
      text.replace(h('ab', 65), `${h('ab', 65)}ab`),
      text.replace(h('ab', 65), h('zz', 65)),
      text.replace(h('01'), h('01', 31)),
      text.replace(h('01'), `${h('01')}","x`),
      text.replace(`["${h('01')}"]`, `["${h('01')}",]`),
      text.replace(`["${h('01')}"]`, JSON.stringify(Array.from({ length: 33 }, () => h('01')))),
      text.replace('"termsVersion":1', '"termsVersion":2'),
      `${text} `,
      text.replace('"lane":{', '"lane":{"extra":1,'),
    ]
    for (const v of variants) expect(readKnownPayment(v)).toBeUndefined()
  })

  it('learns nothing from a text that is not written the way a wallet writes it', () => {
    const p = payment('10', h('ab', 65), undefined, h('3c'))
    const spaced = JSON.stringify(p, null, 2)
    learnPaymentLayout(spaced, p)
    expect(readKnownPayment(JSON.stringify(p))).toBeUndefined()
    const reordered = JSON.stringify({
      network: p.network,
      x402Version: 2,
      scheme: p.scheme,
      payload: p.payload,
    })
    learnPaymentLayout(reordered, JSON.parse(reordered))
    expect(readKnownPayment(JSON.stringify(p))).toBeUndefined()
  })

  it('never reads a text differently from JSON.parse (one character changed anywhere)', () => {
    const base = JSON.stringify(payment('1000', h('ab', 65), [h('01'), h('02'), h('03')], h('4c')))
    learnPaymentLayout(base, JSON.parse(base))
    const alphabet = '0123456789abcdefABx:",[]{} \\'
    let read = 0
    for (let i = 0; i < base.length; i++)
      for (const c of alphabet) {
        const text = base.slice(0, i) + c + base.slice(i + 1)
        const fast = readKnownPayment(text)
        if (fast === undefined) continue
        read++
        expect(fast).toEqual(JSON.parse(text))
      }
    // the amount, signature and proof digits may change; nothing else may
    expect(read).toBeGreaterThan(300)
  })
})

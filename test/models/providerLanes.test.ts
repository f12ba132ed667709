import type { Hex } from 'viem'
import { describe, expect, test } from 'vitest'
import type { TributaryClient } from '../../src/chain/client.js'
import { createLaneBook, type ProviderLane } from '../../src/models/providerLanes.js'
import { seededRandom as rng } from '../support/rng.js'

const lane = (): ProviderLane => ({
  lane: { laneId: `0x${'1c'.repeat(32)}` as Hex } as ProviderLane['lane'],
  price: 10n,
  cap: 10n ** 12n,
  expiresAt: 2n ** 40n,
  claimed: 0n,
  closed: false,
  charged: 0n,
  inflight: 0n,
  highest: 0n,
  used: new Set(),
  held: new Map(),
  best: 0n,
  refreshedAt: 0,
  exposure: 0n,
})

describe('provider lane accounting', () => {
  test('the best voucher is the highest held at or below what is charged, and nothing below it is kept', () => {
    // the book's accounting needs no chain until it is started
    const book = createLaneBook({
      client: {} as TributaryClient,
      pollIntervalMs: 1_000,
      redeem: { exposureThreshold: 10n ** 30n, beforeExpirySeconds: 0 },
      onError: () => undefined,
    })
    const random = rng(7)
    for (let round = 0; round < 50; round++) {
      const l = lane()
      const inFlight: bigint[] = []
      const base = book.exposure()
      for (let step = 0; step < 400; step++) {
        if (inFlight.length < 40 && random() < 0.55) {
          // a call starts with a voucher covering what is charged, the calls in flight and itself, or more
          // (vouchers of concurrent calls arrive in any order)
          const v = l.charged + l.inflight + l.price + BigInt(Math.floor(random() * 25))
          if (l.used.has(v) && v >= l.charged) continue
          l.inflight += l.price
          l.used.add(v)
          if (v > l.highest) l.highest = v
          l.held.set(v, { signature: '0x', proof: [] })
          inFlight.push(v)
        } else if (inFlight.length) {
          const [v] = inFlight.splice(Math.floor(random() * inFlight.length), 1)
          if (random() < 0.05) {
            // the call failed: not charged, its voucher may pay again
            l.inflight -= l.price
            l.used.delete(v as bigint)
          } else book.charge(l)
        }
        // what the accounting must hold after every step
        const atOrBelow = [...l.held.keys()].filter((v) => v <= l.charged)
        expect(atOrBelow.every((v) => v === l.best)).toBe(true)
        expect([...l.held.keys()].every((v) => v >= l.best)).toBe(true)
        expect(l.best).toBeLessThanOrEqual(l.charged)
        // a voucher still able to pay (at or above what is charged) is never forgotten while its call runs
        for (const v of inFlight) if (v >= l.charged) expect(l.used.has(v)).toBe(true)
        expect(l.used.size).toBeLessThanOrEqual(Math.max(64, 2 * (inFlight.length + 64)))
        expect(book.exposure() - base).toBe(l.best - l.claimed)
      }
    }
  })
})

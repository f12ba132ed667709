import type { Hex } from 'viem'
import { describe, expect, test } from 'vitest'
import type { TributaryClient } from '../../src/chain/client.js'
import { createLaneBook, type ProviderLane, spendFloor } from '../../src/models/providerLanes.js'
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
  signing: 0,
  used: new Set(),
  sweepAt: 64,
  held: new Map(),
  best: 0n,
  refreshedAt: 0,
  exposure: 0n,
})

describe('provider lane accounting', () => {
  test('the best voucher is the highest held at or below what signed receipts charge, and every voucher that paid stays spent while it could pay again', () => {
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
      const base = book.exposure()
      const running: bigint[] = []
      const signing: bigint[] = []
      let expectedBest = 0n
      const sent = new Set<bigint>()
      // the vouchers that paid for a call that is running, charged, or waiting for its receipt's signature
      const paid = new Set<bigint>()
      // what the calls say, counted apart from the book: charged calls, and those whose receipt is signed
      let chargedCalls = 0n
      let signedCalls = 0n
      for (let step = 0; step < 400; step++) {
        const r = random()
        if (running.length < 40 && r < 0.45) {
          // a call starts with a voucher covering what is charged, the calls in flight and itself, or more
          // (vouchers of concurrent calls arrive in any order); the router refuses one already spent
          // (now and then far more: a wallet may sign any amount above what it owes)
          const slack = random() < 0.05 ? 1_000_000n : 0n
          const v = l.charged + l.inflight + l.price + BigInt(Math.floor(random() * 25)) + slack
          if (v >= spendFloor(l) && l.used.has(v)) {
            expect(paid.has(v)).toBe(true)
            continue
          }
          expect(paid.has(v)).toBe(false)
          l.inflight += l.price
          l.used.add(v)
          if (v > l.highest) l.highest = v
          l.held.set(v, { signature: '0x', proof: [] })
          sent.add(v)
          running.push(v)
          paid.add(v)
        } else if (running.length && r < 0.75) {
          const [v] = running.splice(Math.floor(random() * running.length), 1) as [bigint]
          if (random() < 0.05) {
            // the model failed: not charged, its voucher may pay again
            book.release(l, v)
            paid.delete(v)
          } else {
            book.charge(l)
            chargedCalls++
            signing.push(v)
          }
        } else if (signing.length) {
          const [v] = signing.splice(Math.floor(random() * signing.length), 1) as [bigint]
          if (random() < 0.1) {
            // its receipt could not be signed: taken back, and its voucher may pay again
            book.uncharge(l, v)
            chargedCalls--
            paid.delete(v)
          } else {
            book.signed(l)
            signedCalls++
            // a redemption may now claim the highest voucher the payer sent at or below the floor (a failed call's
            // voucher included: wallets sign ever larger amounts)
            for (const p of sent) if (p <= spendFloor(l) && p > expectedBest) expectedBest = p
          }
        }
        // what the accounting must hold after every step
        const f = spendFloor(l)
        expect(l.charged).toBe(l.price * chargedCalls)
        expect(f).toBe(l.price * signedCalls)
        expect(l.best).toBe(expectedBest)
        expect(l.best).toBeLessThanOrEqual(f)
        expect([...l.held.keys()].every((v) => v >= l.best)).toBe(true)
        if (l.best > 0n) expect(l.held.has(l.best)).toBe(true)
        for (const v of paid) if (v >= f) expect(l.used.has(v)).toBe(true)
        // spent amounts below the floor wait for a sweep, never more of them than the sweep's threshold
        expect([...l.used].filter((v) => v < f).length).toBeLessThanOrEqual(l.sweepAt)
        expect(book.exposure() - base).toBe(l.best - l.claimed)
      }
    }
  })
})

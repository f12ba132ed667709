import type { Hex } from 'viem'
import { keccak256Hex } from '../pay/keccak.js'
import { DuplicateIdempotencyKeyError } from './errors.js'
import type { LedgerEntry } from './types.js'

/**
 * The idempotency key of a paid call: keccak256(runId ‖ uint32be(item) ‖ utf8(stepId)). A retry, a restore or a
 * redelivery of the same step and item produces the same key, so the provider answers again without charging.
 *
 * @example
 * ```ts
 * idempotencyKey(runId, 'pages[].ocr', 3)
 * ```
 */
export function idempotencyKey(runId: Hex, stepId: string, item: number): Hex {
  const need = 36 + Buffer.byteLength(stepId, 'utf8')
  if (scratch.length < need) scratch = Buffer.allocUnsafe(Math.max(need, scratch.length * 2))
  scratch.write(runId.slice(2), 0, 32, 'hex')
  scratch.writeUInt32BE(item >>> 0, 32)
  scratch.write(stepId, 36, 'utf8')
  return keccak256Hex(scratch.subarray(0, need))
}

// Reused for every key (hashing copies it): no allocation per paid call.
let scratch = Buffer.allocUnsafe(256)

/** A ledger entry as the ledger records it, before it is given an index. */
export type LedgerRecord = Omit<LedgerEntry, 'index'>

/** A run's attribution ledger: every paid call, once per idempotency key, in the order they were paid. */
export type AttributionLedger = {
  readonly entries: readonly LedgerEntry[]
  /** Sum of amounts, per payment token. */
  totals(): Map<string, bigint>
  /** Sum of amounts in every token. */
  total(): bigint
  has(key: Hex): boolean
  get(key: Hex): LedgerEntry | undefined
  /** The output recorded with a paid call, if it is known here (kept for reuse, never re-paid). */
  output(key: Hex): { readonly value: unknown } | undefined
  /** Records a paid call. Throws `DuplicateIdempotencyKeyError` when the key is already recorded. */
  record(entry: LedgerRecord, output: unknown): LedgerEntry
}

/**
 * Creates an attribution ledger, optionally seeded with the entries (and outputs) of a restored run.
 *
 * @example
 * ```ts
 * const ledger = createAttributionLedger()
 * ledger.record({ idempotencyKey: key, stepId: 'ocr', item: 0, ...payment }, output)
 * ledger.record({ idempotencyKey: key, ... }, output) // throws DuplicateIdempotencyKeyError
 * ```
 */
export function createAttributionLedger(
  seed: readonly { readonly entry: LedgerEntry; readonly output?: { readonly value: unknown } }[] = [],
): AttributionLedger {
  return new Ledger(seed)
}

// A class, not closures: one is created per run.
class Ledger implements AttributionLedger {
  readonly entries: LedgerEntry[] = []
  private readonly byKey = new Map<Hex, LedgerEntry>()
  private readonly outputs = new Map<Hex, { readonly value: unknown }>()
  private sum = 0n

  constructor(
    seed: readonly { readonly entry: LedgerEntry; readonly output?: { readonly value: unknown } }[],
  ) {
    for (const s of seed) {
      this.entries.push(s.entry)
      this.byKey.set(s.entry.idempotencyKey, s.entry)
      this.sum += s.entry.amount
      if (s.output) this.outputs.set(s.entry.idempotencyKey, s.output)
    }
  }

  totals(): Map<string, bigint> {
    const out = new Map<string, bigint>()
    for (const e of this.entries) out.set(e.token, (out.get(e.token) ?? 0n) + e.amount)
    return out
  }

  total(): bigint {
    return this.sum
  }

  has(key: Hex): boolean {
    return this.byKey.has(key)
  }

  get(key: Hex): LedgerEntry | undefined {
    return this.byKey.get(key)
  }

  output(key: Hex): { readonly value: unknown } | undefined {
    return this.outputs.get(key)
  }

  record(record: LedgerRecord, output: unknown): LedgerEntry {
    if (this.byKey.has(record.idempotencyKey)) throw new DuplicateIdempotencyKeyError(record.idempotencyKey)
    const entry: LedgerEntry = { index: this.entries.length, ...record }
    this.entries.push(entry)
    this.byKey.set(entry.idempotencyKey, entry)
    this.outputs.set(entry.idempotencyKey, { value: output })
    this.sum += entry.amount
    return entry
  }
}

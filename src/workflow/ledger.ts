import { createHash, hash } from 'node:crypto'
import type { Hex } from 'viem'
import { DuplicateIdempotencyKeyError } from './errors.js'
import type { LedgerEntry } from './types.js'

/**
 * SHA-256 of bytes (or of a string's UTF-8) as lowercase hex without `0x`: native one-shot `crypto.hash` (Node ≥ 20.12;
 * its hex output is twice as fast as its buffer output), `createHash` before it.
 */
export const sha256Hex = (
  typeof hash === 'function'
    ? (data: Uint8Array | string) => hash('sha256', data, 'hex')
    : (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex')
) as (data: Uint8Array | string) => string

const HEX = /^0x[0-9a-fA-F]*$/
// The last run id found to be hex: consecutive keys mostly belong to one run.
let checkedRunId = ''

/**
 * The idempotency key of a paid call: sha256 of the UTF-8 string `${runId}:${item}:${stepId}` (the run id as given, a
 * `0x` hex string; the item in decimal). A retry, a restore or a redelivery of the same step and item produces the same
 * key, so the provider answers again without charging. The run id holds no `:` and the step id comes last, so distinct
 * (run, step, item) have distinct preimages, and distinct keys as long as SHA-256 resists collisions. It is derived on
 * every paid call, hence SHA-256 over a string (native, no byte packing) rather than keccak256 (JavaScript, several
 * times slower); nothing on chain recomputes it.
 *
 * @example
 * ```ts
 * idempotencyKey(runId, 'pages[3].ocr', 3) // sha256('0x…:3:pages[3].ocr')
 * ```
 */
export function idempotencyKey(runId: Hex, stepId: string, item: number): Hex {
  if (runId !== checkedRunId) {
    if (!HEX.test(runId)) throw new RangeError(`run id ${runId} is not a 0x hex string`)
    checkedRunId = runId
  }
  return `0x${sha256Hex(`${runId}:${item}:${stepId}`)}`
}

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

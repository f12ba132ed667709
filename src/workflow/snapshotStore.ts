import type { Hex } from 'viem'
import type { LedgerEntry, SettleResult } from './types.js'

/** Where a run is in its life. `running` on disk means a worker holds it or died holding it. */
export type RunStatus = 'running' | 'suspended' | 'halted' | 'succeeded' | 'failed' | 'cancelled'

/** A value in a stored run: kept inline when small and primitive, else a reference to a blob. */
export type BlobRef = { readonly $blob: Hex }

/**
 * A run as a snapshot store keeps it. Large values (the input, step outputs, actor inputs, paid outputs) are blob
 * references, so the record stays small however big the payloads are.
 */
export type StoredRun = {
  readonly runId: Hex
  readonly workflowId: string
  /** The workflow's fingerprint: a run only resumes with the same workflow structure. */
  readonly fingerprint: Hex
  readonly status: RunStatus
  /** Wait steps the run is suspended on. */
  readonly waiting: readonly string[]
  /** XState persisted snapshot, with values replaced by blob references. */
  readonly machine: unknown
  /** Every paid call, with its output as a blob reference (reused on restore instead of paying again). */
  readonly ledger: readonly { readonly entry: LedgerEntry; readonly output: unknown }[]
  /**
   * How the ledger's idempotency keys and receipt leaves are derived ({@link LEDGER_SCHEME} when saved by this
   * version; absent in runs saved before it had a number). A run resumes only under the scheme it was saved with:
   * keys derived another way would not match its recorded calls, and those calls would be paid again.
   */
  readonly ledgerScheme?: number | undefined
  readonly settlement: SettleResult | undefined
  readonly createdAt: number
  readonly updatedAt: number
}

/** The ledger scheme of this version: SHA-256 idempotency keys and receipt leaves, batch-signed provider receipts. */
export const LEDGER_SCHEME = 2

/** A stored run plus the version the store gave it. */
export type VersionedRun = StoredRun & { readonly version: number }

/** One line of `list()`. */
export type RunSummary = {
  readonly runId: Hex
  readonly workflowId: string
  readonly status: RunStatus
  readonly waiting: readonly string[]
  readonly updatedAt: number
  readonly version: number
}

/**
 * Persistence for runs: run records with optimistic versioning, and content-addressed blobs. Every implementation
 * must pass `describeSnapshotStoreConformance`.
 */
export type SnapshotStore = {
  /**
   * Saves a run. With `expectedVersion`, fails with `SnapshotConflictError` unless the stored version is exactly that
   * (0 = must not exist yet). Returns the new version (1 for a new run, then +1 per save).
   */
  save(run: StoredRun, options?: { readonly expectedVersion?: number }): Promise<number>
  /** The stored run, or `undefined`. Never shares objects with the store: mutating it changes nothing stored. */
  load(runId: Hex): Promise<VersionedRun | undefined>
  /** Runs, newest first, optionally filtered. */
  list(filter?: { readonly status?: RunStatus; readonly workflowId?: string }): Promise<RunSummary[]>
  /** Deletes the run record (blobs may be shared with other runs and are kept). */
  delete(runId: Hex): Promise<void>
  /** Stores `data` under `hash` (keccak256 of `data`). Storing the same blob twice is a no-op. */
  putBlob(hash: Hex, data: string): Promise<void>
  /** The blob, or `undefined`. */
  getBlob(hash: Hex): Promise<string | undefined>
}

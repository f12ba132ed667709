import type { Hex } from 'viem'
import { SnapshotConflictError } from './errors.js'
import { parseSnapshotJson, snapshotJson } from './snapshotJson.js'
import type { RunSummary, SnapshotStore, StoredRun, VersionedRun } from './snapshotStore.js'

/**
 * An in-memory `SnapshotStore`. Records are kept serialised (canonical JSON, bigint-safe), so what comes back is a
 * fresh copy and anything that would not survive a real store fails here too.
 *
 * @example
 * ```ts
 * const store = createMemorySnapshotStore()
 * const result = await run(docs, input, { store, caller, settler, directory })
 * await store.load(result.runId)
 * ```
 */
export function createMemorySnapshotStore(): SnapshotStore & { readonly blobCount: () => number } {
  const runs = new Map<Hex, { text: string; summary: RunSummary }>()
  const blobs = new Map<Hex, string>()
  return {
    async save(run: StoredRun, options = {}) {
      const key = run.runId.toLowerCase() as Hex
      const current = runs.get(key)?.summary.version ?? 0
      if (options.expectedVersion !== undefined && options.expectedVersion !== current)
        throw new SnapshotConflictError(run.runId, options.expectedVersion, current)
      const version = current + 1
      runs.set(key, {
        text: snapshotJson({ ...run, version }),
        summary: {
          runId: run.runId,
          workflowId: run.workflowId,
          status: run.status,
          waiting: [...run.waiting],
          updatedAt: run.updatedAt,
          version,
        },
      })
      return version
    },
    async load(runId) {
      const hit = runs.get(runId.toLowerCase() as Hex)
      return hit ? parseSnapshotJson<VersionedRun>(hit.text) : undefined
    },
    async list(filter = {}) {
      return [...runs.values()]
        .map((r) => ({ ...r.summary, waiting: [...r.summary.waiting] }))
        .filter(
          (s) =>
            (filter.status === undefined || s.status === filter.status) &&
            (filter.workflowId === undefined || s.workflowId === filter.workflowId),
        )
        .sort((a, b) => b.updatedAt - a.updatedAt)
    },
    async delete(runId) {
      runs.delete(runId.toLowerCase() as Hex)
    },
    async putBlob(hash, data) {
      const key = hash.toLowerCase() as Hex
      if (!blobs.has(key)) blobs.set(key, data)
    },
    async getBlob(hash) {
      return blobs.get(hash.toLowerCase() as Hex)
    },
    blobCount: () => blobs.size,
  }
}

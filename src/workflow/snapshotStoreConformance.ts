import type { Hex } from 'viem'
import { describe, expect, it } from 'vitest'
import { SnapshotConflictError } from './errors.js'
import { hashSnapshotJson, snapshotJson } from './snapshotJson.js'
import type { SnapshotStore, StoredRun } from './snapshotStore.js'

const id = (n: number) => `0x${n.toString(16).padStart(64, '0')}` as Hex

function sampleRun(n: number, over: Partial<StoredRun> = {}): StoredRun {
  return {
    runId: id(n),
    workflowId: 'conformance',
    fingerprint: id(999),
    status: 'running',
    waiting: [],
    machine: {
      status: 'active',
      value: { run: 's1' },
      context: { input: { $blob: id(7) }, outputs: { s0: 42 } },
    },
    ledger: [
      {
        entry: {
          index: 0,
          idempotencyKey: id(1),
          stepId: 's0',
          item: 0,
          assetId: 12345678901234567890n,
          modelId: 'acme/ocr',
          modelVersion: '1.2.3',
          token: '0x00000000000000000000000000000000000000aa',
          laneId: id(2),
          amount: 10n ** 30n,
          cumulative: 10n ** 30n,
          inputHash: id(3),
          outputHash: id(4),
          providerSignature: `0x${'11'.repeat(65)}`,
          latencyMs: 12.5,
          lane: { nested: [1n, 'x'] },
        },
        output: { $blob: id(5) },
      },
    ],
    settlement: undefined,
    createdAt: 1000 + n,
    updatedAt: 2000 + n,
    ...over,
  }
}

/**
 * The conformance suite every `SnapshotStore` implementation must pass (memory now, Redis with distributed runs).
 * Call it from a vitest file with a factory that returns a fresh, empty store.
 *
 * @example
 * ```ts
 * import { describeSnapshotStoreConformance } from 'tributary/workflow/testing'
 * describeSnapshotStoreConformance('redis', async () => createRedisSnapshotStore({ url, prefix: randomPrefix() }))
 * ```
 */
export function describeSnapshotStoreConformance(
  name: string,
  factory: () => SnapshotStore | Promise<SnapshotStore>,
): void {
  describe(`SnapshotStore conformance: ${name}`, () => {
    it('returns undefined for an unknown run and blob', async () => {
      const store = await factory()
      expect(await store.load(id(404))).toBeUndefined()
      expect(await store.getBlob(id(404))).toBeUndefined()
    })

    it('round-trips a run exactly, bigint and nested values included, with version 1', async () => {
      const store = await factory()
      const run = sampleRun(1)
      expect(await store.save(run)).toBe(1)
      const back = await store.load(run.runId)
      expect(back).toEqual({ ...run, version: 1 })
      expect(back?.ledger[0]?.entry.amount).toBe(10n ** 30n)
      expect(typeof back?.ledger[0]?.entry.assetId).toBe('bigint')
    })

    it('bumps the version on every save and keeps the latest state', async () => {
      const store = await factory()
      const run = sampleRun(2)
      expect(await store.save(run)).toBe(1)
      expect(await store.save({ ...run, status: 'suspended', waiting: ['approval'] })).toBe(2)
      const back = await store.load(run.runId)
      expect(back?.version).toBe(2)
      expect(back?.status).toBe('suspended')
      expect(back?.waiting).toEqual(['approval'])
    })

    it('enforces expectedVersion (optimistic concurrency), 0 meaning "must not exist"', async () => {
      const store = await factory()
      const run = sampleRun(3)
      expect(await store.save(run, { expectedVersion: 0 })).toBe(1)
      await expect(store.save(run, { expectedVersion: 0 })).rejects.toBeInstanceOf(SnapshotConflictError)
      expect(await store.save(run, { expectedVersion: 1 })).toBe(2)
      await expect(store.save(run, { expectedVersion: 1 })).rejects.toBeInstanceOf(SnapshotConflictError)
      expect((await store.load(run.runId))?.version).toBe(2)
    })

    it('gives copies: mutating a loaded run or the saved object changes nothing stored', async () => {
      const store = await factory()
      const run = sampleRun(4)
      const mutable = structuredClone(run) as unknown as { waiting: string[] }
      await store.save(mutable as unknown as StoredRun)
      mutable.waiting.push('late')
      const a = (await store.load(run.runId)) as unknown as { waiting: string[] }
      a.waiting.push('x')
      expect((await store.load(run.runId))?.waiting).toEqual([])
    })

    it('treats run ids case-insensitively', async () => {
      const store = await factory()
      const run = sampleRun(0xabc)
      await store.save(run)
      expect((await store.load(run.runId.toUpperCase().replace('0X', '0x') as Hex))?.runId).toBe(run.runId)
    })

    it('lists runs newest first and filters by status and workflow', async () => {
      const store = await factory()
      await store.save(sampleRun(10, { updatedAt: 10, status: 'suspended', waiting: ['w'] }))
      await store.save(sampleRun(11, { updatedAt: 30, status: 'running' }))
      await store.save(sampleRun(12, { updatedAt: 20, status: 'suspended', workflowId: 'other' }))
      const all = await store.list()
      expect(all.map((r) => r.runId)).toEqual([id(11), id(12), id(10)])
      expect((await store.list({ status: 'suspended' })).map((r) => r.runId)).toEqual([id(12), id(10)])
      expect(
        (await store.list({ status: 'suspended', workflowId: 'conformance' })).map((r) => r.runId),
      ).toEqual([id(10)])
      expect(all.find((r) => r.runId === id(10))).toMatchObject({
        version: 1,
        waiting: ['w'],
        workflowId: 'conformance',
      })
    })

    it('deletes a run', async () => {
      const store = await factory()
      const run = sampleRun(20)
      await store.save(run)
      await store.delete(run.runId)
      expect(await store.load(run.runId)).toBeUndefined()
      expect(await store.list()).toEqual([])
      expect(await store.save(run, { expectedVersion: 0 })).toBe(1)
    })

    it('stores blobs by content hash, idempotently, byte for byte', async () => {
      const store = await factory()
      const value = { text: 'é ✓ 日本', n: 1n, list: [1, 2, 3] }
      const data = snapshotJson(value)
      const hash = hashSnapshotJson(value)
      await store.putBlob(hash, data)
      await store.putBlob(hash, data)
      expect(await store.getBlob(hash)).toBe(data)
      expect(await store.getBlob(hash.toUpperCase().replace('0X', '0x') as Hex)).toBe(data)
      const big = 'x'.repeat(1 << 20)
      await store.putBlob(hashSnapshotJson(big), snapshotJson(big))
      expect((await store.getBlob(hashSnapshotJson(big)))?.length).toBe(snapshotJson(big).length)
    })

    it('keeps blobs when a run is deleted (they may be shared)', async () => {
      const store = await factory()
      const data = snapshotJson({ shared: true })
      const hash = hashSnapshotJson({ shared: true })
      await store.putBlob(hash, data)
      await store.save(sampleRun(30))
      await store.delete(id(30))
      expect(await store.getBlob(hash)).toBe(data)
    })

    it('serialises concurrent saves with expectedVersion: exactly one wins', async () => {
      const store = await factory()
      const run = sampleRun(40)
      await store.save(run)
      const results = await Promise.allSettled([
        store.save({ ...run, status: 'succeeded' }, { expectedVersion: 1 }),
        store.save({ ...run, status: 'failed' }, { expectedVersion: 1 }),
      ])
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
      expect(rejected.reason).toBeInstanceOf(SnapshotConflictError)
      expect((await store.load(run.runId))?.version).toBe(2)
    })
  })
}

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Address, Hex } from 'viem'
import type { Lane } from '../pay/lane.js'

/** A client's license lane on one model, as a lane store keeps it. */
export type StoredLane = {
  lane: Lane
  /** Price of one call under the lane's terms version. */
  price: bigint
  cap: bigint
  expiresAt: bigint
  /** The highest cumulative amount signed on the lane so far. */
  signed: bigint
  /** The endpoint the lane was used with (informative). */
  endpoint?: string | undefined
}

/** Where a wallet keeps its lanes between processes, keyed by (payer, chain, ledger, model). */
export type LaneStore = {
  get(key: string): Promise<StoredLane | undefined> | StoredLane | undefined
  set(key: string, lane: StoredLane): Promise<void> | void
  delete(key: string): Promise<void> | void
}

/**
 * A lane store in memory (the default): lanes live as long as the process.
 *
 * @example
 * ```ts
 * const wallet = createWallet({ client, laneStore: createMemoryLaneStore() })
 * ```
 */
export function createMemoryLaneStore(): LaneStore {
  const map = new Map<string, StoredLane>()
  return {
    get: (k) => map.get(k),
    set: (k, v) => {
      map.set(k, v)
    },
    delete: (k) => {
      map.delete(k)
    },
  }
}

type JsonLane = {
  lane: Omit<Lane, 'modelId' | 'seq' | 'ancestors'> & {
    modelId: string
    seq: string
    ancestors: { assetId: string; bps: number }[]
  }
  price: string
  cap: string
  expiresAt: string
  signed: string
  endpoint?: string
}

/**
 * A lane store in a JSON file (written atomically on every change), so a restarted agent reuses its open
 * lanes instead of opening new ones. A stale `signed` amount is harmless: providers tell the client the
 * amount the next voucher needs.
 *
 * @example
 * ```ts
 * const wallet = createWallet({ client, laneStore: createFileLaneStore('.tributary/lanes.json') })
 * ```
 */
export function createFileLaneStore(path: string): LaneStore {
  let data: Record<string, JsonLane> = {}
  try {
    data = JSON.parse(readFileSync(path, 'utf8')) as Record<string, JsonLane>
  } catch {}
  const flush = () => {
    mkdirSync(dirname(path), { recursive: true })
    const tmp = `${path}.${process.pid}.tmp`
    writeFileSync(tmp, JSON.stringify(data, null, 2))
    renameSync(tmp, path)
  }
  return {
    get(k) {
      const j = data[k]
      if (!j) return undefined
      return {
        lane: {
          ...j.lane,
          payer: j.lane.payer as Address,
          token: j.lane.token as Address,
          laneId: j.lane.laneId as Hex,
          lineageHash: j.lane.lineageHash as Hex,
          modelId: BigInt(j.lane.modelId),
          seq: BigInt(j.lane.seq),
          ancestors: j.lane.ancestors.map((a) => ({ assetId: BigInt(a.assetId), bps: a.bps })),
        },
        price: BigInt(j.price),
        cap: BigInt(j.cap),
        expiresAt: BigInt(j.expiresAt),
        signed: BigInt(j.signed),
        ...(j.endpoint ? { endpoint: j.endpoint } : {}),
      }
    },
    set(k, v) {
      data[k] = {
        lane: {
          ...v.lane,
          modelId: v.lane.modelId.toString(),
          seq: v.lane.seq.toString(),
          ancestors: v.lane.ancestors.map((a) => ({ assetId: a.assetId.toString(), bps: a.bps })),
        },
        price: v.price.toString(),
        cap: v.cap.toString(),
        expiresAt: v.expiresAt.toString(),
        signed: v.signed.toString(),
        ...(v.endpoint ? { endpoint: v.endpoint } : {}),
      }
      flush()
    },
    delete(k) {
      delete data[k]
      flush()
    },
  }
}

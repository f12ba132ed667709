import { type Address, concatHex, encodePacked, type Hex, keccak256, size, sliceHex } from 'viem'
import { BaseError } from '../errors/base.js'

/** One ancestor of a model and the royalty (basis points) it takes of the model's revenue. */
export type Ancestor = { assetId: bigint; bps: number }

/** The immutable key of a license lane, as the ledger hashes it, plus the model's ancestor vector. */
export type Lane = {
  laneId: Hex
  payer: Address
  token: Address
  modelId: bigint
  termsVersion: number
  seq: bigint
  lineageHash: Hex
  /** The model's flattened ancestors, fixed at its registration (sorted by id). */
  ancestors: readonly Ancestor[]
}

/** A lane and the cumulative amount now owed on it, as settlement and redemption take them. */
export type LaneClaim = { lane: Lane; cumulative: bigint }

/** Packed lineage bytes or lane entries could not be read. */
export class MalformedLineageError extends BaseError {
  override name = 'MalformedLineageError' as const
}

/** The packed ancestor vector as the registry stores it: 10 bytes per ancestor (uint64 id, uint16 bps). */
export function encodeLineage(ancestors: readonly Ancestor[]): Hex {
  if (ancestors.length === 0) return '0x'
  return concatHex(ancestors.map((a) => encodePacked(['uint64', 'uint16'], [a.assetId, a.bps])))
}

/** Reads packed lineage bytes into ancestors. */
export function decodeLineage(lineage: Hex): Ancestor[] {
  const n = size(lineage)
  if (n % 10 !== 0) throw new MalformedLineageError(`lineage has ${n} bytes, not a multiple of 10`)
  const out: Ancestor[] = []
  for (let o = 0; o < n; o += 10) {
    out.push({
      assetId: BigInt(sliceHex(lineage, o, o + 8)),
      bps: Number(BigInt(sliceHex(lineage, o + 8, o + 10))),
    })
  }
  return out
}

/** The lineage hash a lane key carries. */
export function lineageHashOf(ancestors: readonly Ancestor[]): Hex {
  return keccak256(encodeLineage(ancestors))
}

/** The lane id: keccak(payer | token | uint64 modelId | uint32 termsVersion | uint64 seq | lineageHash). */
export function computeLaneId(key: Omit<Lane, 'laneId' | 'ancestors'>): Hex {
  return keccak256(
    encodePacked(
      ['address', 'address', 'uint64', 'uint32', 'uint64', 'bytes32'],
      [key.payer, key.token, key.modelId, key.termsVersion, key.seq, key.lineageHash],
    ),
  )
}

/**
 * Packs lane claims into the ledger's calldata format (33 + 10n bytes each):
 * uint64 modelId | uint32 termsVersion | uint64 seq | uint96 cumulative | uint8 n | n × (uint64 id, uint16 bps)
 */
export function encodeLaneClaims(claims: readonly LaneClaim[]): Hex {
  if (claims.length === 0) return '0x'
  return concatHex(
    claims.map(({ lane, cumulative }) =>
      concatHex([
        encodePacked(
          ['uint64', 'uint32', 'uint64', 'uint96', 'uint8'],
          [lane.modelId, lane.termsVersion, lane.seq, cumulative, lane.ancestors.length],
        ),
        encodeLineage(lane.ancestors),
      ]),
    ),
  )
}

/** One entry of a `Settled` event's packed attribution: a model and what its lane (or flat fee) paid. */
export type AttributionEntry = { modelId: bigint; amount: bigint }

/** A credit the ledger made: to the model of a lane (role model) or to one of its ancestors. */
export type Credit = { assetId: bigint; role: 'model' | 'ancestor'; amount: bigint; ofModel: bigint }

/** Reads the packed attribution of a `Settled` event: 20 bytes per entry (uint64 modelId, uint96 amount). */
export function decodeAttribution(attribution: Hex): AttributionEntry[] {
  const n = size(attribution)
  if (n % 20 !== 0) throw new MalformedLineageError(`attribution has ${n} bytes, not a multiple of 20`)
  const out: AttributionEntry[] = []
  for (let o = 0; o < n; o += 20) {
    out.push({
      modelId: BigInt(sliceHex(attribution, o, o + 8)),
      amount: BigInt(sliceHex(attribution, o + 8, o + 20)),
    })
  }
  return out
}

/**
 * Every credit behind attribution entries: each model's ancestors get floor(amount × bps / 10 000) by the
 * model's immutable lineage, the model the rest, exactly as the ledger credited them.
 */
export function expandAttribution(
  entries: readonly AttributionEntry[],
  ancestorsOf: (modelId: bigint) => readonly Ancestor[],
): Credit[] {
  const out: Credit[] = []
  for (const e of entries) {
    const split = splitCredit(e.amount, ancestorsOf(e.modelId))
    out.push({ assetId: e.modelId, role: 'model', amount: split.model, ofModel: e.modelId })
    for (const a of split.ancestors)
      out.push({ assetId: a.assetId, role: 'ancestor', amount: a.amount, ofModel: e.modelId })
  }
  return out
}

/**
 * How the ledger splits `delta` moved on a lane: each ancestor gets floor(delta × bps / 10 000), the model
 * the rest. The same integer rule runs on-chain, so this predicts every credit to the unit.
 */
export function splitCredit(
  delta: bigint,
  ancestors: readonly Ancestor[],
): { model: bigint; ancestors: { assetId: bigint; amount: bigint }[] } {
  let rest = delta
  const shares = ancestors.map((a) => {
    const amount = (delta * BigInt(a.bps)) / 10_000n
    rest -= amount
    return { assetId: a.assetId, amount }
  })
  return { model: rest, ancestors: shares }
}

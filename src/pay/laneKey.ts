import type { Lane } from './lane.js'

/** The ledger's LaneKey struct for a lane. */
export function toLaneKey(lane: Lane) {
  return {
    payer: lane.payer,
    token: lane.token,
    modelId: lane.modelId,
    termsVersion: lane.termsVersion,
    lineageHash: lane.lineageHash,
    seq: lane.seq,
  }
}

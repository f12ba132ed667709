// biome-ignore-all lint/performance/noBarrelFile: entrypoint module of tributary/workflow/testing
// Helpers for testing your own implementations against tributary's contracts (imports vitest).
export { describeSnapshotStoreConformance } from './snapshotStoreConformance.js'

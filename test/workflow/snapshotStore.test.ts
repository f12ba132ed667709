import { createMemorySnapshotStore } from '../../src/workflow/createMemorySnapshotStore.js'
import { describeSnapshotStoreConformance } from '../../src/workflow/snapshotStoreConformance.js'

describeSnapshotStoreConformance('memory', () => createMemorySnapshotStore())

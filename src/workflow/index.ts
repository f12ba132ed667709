// biome-ignore-all lint/performance/noBarrelFile: entrypoint module of tributary/workflow

export { createStaticDirectory, type StaticDirectory } from '../market/createStaticDirectory.js'
export { checkSubschema, type SchemaIssue, schemaAtPath, zodJsonSchema } from '../market/jsonSchema.js'
export { compareVersions, parseVersion, satisfies } from '../market/semver.js'
export {
  type CallPaidModelParameters,
  type CallPaidModelReturnType,
  callPaidModel,
  type PaidCallDependencies,
} from './callPaidModel.js'
export {
  compileWorkflow,
  type WorkflowMachine,
  type WorkflowMachineContext,
  type WorkflowMachineEvent,
  workflowMapActor,
  workflowTaskActor,
} from './compileWorkflow.js'
export { createMemorySnapshotStore } from './createMemorySnapshotStore.js'
export {
  createPaidCallActor,
  type PaidCallActorInput,
  type PaidCallActorOutput,
} from './createPaidCallActor.js'
export { type DryRunParameters, type DryRunReturnType, dryRun } from './dryRun.js'
export {
  BlobNotFoundError,
  BudgetExceededError,
  DuplicateIdempotencyKeyError,
  InvalidInputError,
  InvalidModelOutputError,
  MissingAdapterError,
  MissingPathError,
  NonRetryableError,
  NotWaitingError,
  OverBudgetError,
  type PlanIssue,
  PolicyViolationError,
  RetryAfterError,
  RunCancelledError,
  RunFailedError,
  RunNotFoundError,
  SchemaMismatchError,
  SnapshotConflictError,
  StepFailedError,
  StepTimeoutError,
  UnboundedQuoteError,
  UnknownModelError,
  WorkflowDefinitionError,
  WorkflowMismatchError,
} from './errors.js'
export type { RunEvent, RunEventType } from './events.js'
export { type FnParameters, fn } from './fn.js'
export {
  type AttributionLedger,
  createAttributionLedger,
  idempotencyKey,
  type LedgerRecord,
} from './ledger.js'
export { type ModelParameters, model } from './model.js'
export type { StepContext, Task } from './nodes.js'
export { formatModelRef, isCapabilityQuery, parseModelRef } from './parseModelRef.js'
export {
  formatPlan,
  type ModelQuote,
  type Plan,
  type PlannedModel,
  type PlanParameters,
  type PlanStep,
  plan,
} from './plan.js'
export { getReceiptProof, type Receipt, receiptLeaf, receiptRoot, verifyReceiptProof } from './receipt.js'
export { backoffDelay, defaultFnRetry, defaultModelRetry, systemClock } from './retry.js'
export {
  type HaltedRun,
  type ResumeParameters,
  type RunOptions,
  type RunResult,
  resume,
  run,
  type SucceededRun,
  type SuspendedRun,
} from './run.js'
export type { RunPolicy } from './runtime.js'
export { hashSnapshotJson, parseSnapshotJson, snapshotJson } from './snapshotJson.js'
export type {
  BlobRef,
  RunStatus,
  RunSummary,
  SnapshotStore,
  StoredRun,
  VersionedRun,
} from './snapshotStore.js'
export { type StreamRunReturnType, streamRun } from './streamRun.js'
export type {
  CapabilityQuery,
  Clock,
  JSONSchema,
  LedgerEntry,
  ModelDirectory,
  ModelIdRef,
  ModelRef,
  PaidCaller,
  PaidCallOptions,
  PaidCallPayment,
  PaidCallResult,
  ResolvedModel,
  RetryPolicy,
  SettleParameters,
  SettleResult,
  Settler,
  StepOptions,
} from './types.js'
export {
  type Branch,
  BranchBuilder,
  type Case,
  CaseBuilder,
  Flow,
  type ItemScope,
  type Scope,
  type Workflow,
  type WorkflowInput,
  type WorkflowOutput,
  workflow,
} from './workflow.js'

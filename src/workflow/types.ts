import type { Address, Hex } from 'viem'

/** A JSON Schema document (draft 2020-12, as `z.toJSONSchema` produces). Kept open on purpose. */
export type JSONSchema = { readonly [key: string]: unknown } | boolean

/** A model named by its marketplace id and a semver range, parsed from `'acme/ocr@^1.2'`. */
export type ModelIdRef = { readonly id: string; readonly range: string }

/** A model found by what it can do, within constraints. */
export type CapabilityQuery = {
  readonly capability: string
  /** Refuse models that charge more than this per call (token base units). */
  readonly maxPricePerCall?: bigint
  /** Only models paid in this token. */
  readonly token?: Address
  /** Only versions in this semver range. */
  readonly range?: string
  /** Every one of these capabilities must be listed too. */
  readonly alsoCapabilities?: readonly string[]
}

/** What a workflow step names: an id with a range, or a capability query. */
export type ModelRef = ModelIdRef | CapabilityQuery

/** A model as the marketplace lists it, pinned to one version. */
export type ResolvedModel = {
  readonly assetId: bigint
  readonly id: string
  readonly version: string
  readonly capabilities: readonly string[]
  readonly inputSchema: JSONSchema
  readonly outputSchema: JSONSchema
  readonly pricePerCall: bigint
  readonly token: Address
  readonly endpoint?: string
}

/** Resolves model references. The in-memory `createStaticDirectory` and the marketplace index implement it. */
export type ModelDirectory = {
  /** The best listed model for `ref`, or `undefined` when none fits. */
  resolve(ref: ModelRef): Promise<ResolvedModel | undefined> | ResolvedModel | undefined
}

/** What a paid call returns besides the output: the provider's signed receipt of the charge. */
export type PaidCallPayment = {
  readonly laneId: Hex
  readonly amount: bigint
  readonly cumulative: bigint
  readonly modelVersion: string
  readonly inputHash: Hex
  readonly outputHash: Hex
  readonly providerSignature: Hex
  readonly latencyMs: number
  /** Opaque to the engine, handed back to the settler. Keep it JSON-serialisable (bigint allowed). */
  readonly lane: unknown
}

export type PaidCallOptions = {
  readonly runId: Hex
  /** keccak256 over (runId, stepId, item): the same key must return the same response and never charge twice. */
  readonly idempotencyKey: Hex
  readonly stepId: string
  readonly item: number
  readonly signal: AbortSignal
}

export type PaidCallResult = { readonly output: unknown; readonly payment: PaidCallPayment }

/** Calls a model and pays for it (the chain SDK implements it with lanes and vouchers). */
export type PaidCaller = {
  call(model: ResolvedModel, input: unknown, options: PaidCallOptions): Promise<PaidCallResult>
}

/** One paid call as the run's attribution ledger holds it. */
export type LedgerEntry = {
  readonly index: number
  readonly idempotencyKey: Hex
  readonly stepId: string
  readonly item: number
  readonly assetId: bigint
  readonly modelId: string
  readonly modelVersion: string
  readonly token: Address
  readonly laneId: Hex
  readonly amount: bigint
  readonly cumulative: bigint
  readonly inputHash: Hex
  readonly outputHash: Hex
  readonly providerSignature: Hex
  readonly latencyMs: number
  readonly lane: unknown
}

export type SettleParameters = {
  readonly runId: Hex
  readonly receiptRoot: Hex
  readonly entries: readonly LedgerEntry[]
}

export type SettleResult = { readonly txHash: Hex; readonly [key: string]: unknown }

/** Settles a run once, at its end: every lane used, every model and ancestor credited, the root recorded. */
export type Settler = {
  settle(parameters: SettleParameters): Promise<SettleResult>
}

/** Where the engine reads time and schedules timers; XState's `SimulatedClock` fits. */
export type Clock = {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** Retries with exponential backoff: delay = min(maxDelayMs, initialDelayMs × factor^(attempt−1)), then jitter. */
export type RetryPolicy = {
  /** Attempts in total, the first included. */
  readonly maxAttempts: number
  readonly initialDelayMs: number
  readonly backoffFactor: number
  readonly maxDelayMs: number
  /** Fraction of each delay that is random: 0 = none, 0.5 = delay × [0.5, 1), 1 = full jitter. */
  readonly jitter: number
  /** Return false to fail at once on this error. `NonRetryableError` never retries. */
  readonly retryOn?: (error: unknown) => boolean
}

/** Step-level execution options, set on `model()` / `fn()` or as run-wide defaults in the policy. */
export type StepOptions = {
  readonly retry?: Partial<RetryPolicy>
  /** Each attempt is aborted and fails with `StepTimeoutError` after this many ms. */
  readonly timeoutMs?: number
}

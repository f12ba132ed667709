import { BaseError } from '../errors/base.js'
import { formatIssues, type ValidationIssue } from '../errors/issues.js'

export type { ValidationIssue }

/** A model's terms break a rule the registry enforces (shares, payee count, royalty, bounds). */
export class InvalidTermsError extends BaseError {
  override name = 'InvalidTermsError' as const
  readonly modelId: string
  readonly issues: readonly ValidationIssue[]
  constructor({ modelId, issues }: { modelId: string; issues: readonly ValidationIssue[] }) {
    super(`terms of model "${modelId}" are invalid; fix them before defining or publishing the model`, {
      metaMessages: [
        ...formatIssues(issues),
        'Payee shares are basis points that sum to 10000 (1 to 8 payees); royaltyBps is at most 5000.',
      ],
    })
    this.modelId = modelId
    this.issues = issues
  }
}

/** A model definition is malformed (id, version, capabilities, lineage, missing `run`). */
export class InvalidModelDefinitionError extends BaseError {
  override name = 'InvalidModelDefinitionError' as const
  readonly modelId: string
  readonly issues: readonly ValidationIssue[]
  constructor({ modelId, issues }: { modelId: string; issues: readonly ValidationIssue[] }) {
    super(`model definition "${modelId}" is invalid; correct the fields listed below`, {
      metaMessages: formatIssues(issues),
    })
    this.modelId = modelId
    this.issues = issues
  }
}

/** The caller's input does not match the model's input schema. Nothing ran; nothing should be charged. */
export class InvalidModelInputError extends BaseError {
  override name = 'InvalidModelInputError' as const
  readonly modelId: string
  readonly issues: readonly ValidationIssue[]
  constructor({ modelId, issues }: { modelId: string; issues: readonly ValidationIssue[] }) {
    super(`input for model "${modelId}" does not match its input schema; send input that matches the card`, {
      metaMessages: formatIssues(issues),
    })
    this.modelId = modelId
    this.issues = issues
  }
}

/** The model produced output that does not match its own output schema: a provider bug, not the caller's. */
export class InvalidModelOutputError extends BaseError {
  override name = 'InvalidModelOutputError' as const
  readonly modelId: string
  readonly issues: readonly ValidationIssue[]
  constructor({ modelId, issues }: { modelId: string; issues: readonly ValidationIssue[] }) {
    super(
      `model "${modelId}" returned output that does not match its output schema; the call failed and must not be charged — report it to the model's publisher`,
      { metaMessages: formatIssues(issues) },
    )
    this.modelId = modelId
    this.issues = issues
  }
}

/** The model did not finish within its time budget; it was told to stop through its AbortSignal. */
export class ModelTimeoutError extends BaseError {
  override name = 'ModelTimeoutError' as const
  readonly modelId: string
  readonly timeoutMs: number
  constructor({ modelId, timeoutMs }: { modelId: string; timeoutMs: number }) {
    super(
      `model "${modelId}" did not answer within ${timeoutMs} ms; retry with a larger timeoutMs or a smaller input`,
    )
    this.modelId = modelId
    this.timeoutMs = timeoutMs
  }
}

/** The caller aborted the call through its AbortSignal. */
export class ModelAbortedError extends BaseError {
  override name = 'ModelAbortedError' as const
  readonly modelId: string
  constructor({ modelId, cause }: { modelId: string; cause?: unknown }) {
    super(`call to model "${modelId}" was aborted by the caller`, cause === undefined ? {} : { cause })
    this.modelId = modelId
  }
}

/** The model's `run` threw. The original error is the `cause`. */
export class ModelRunError extends BaseError {
  override name = 'ModelRunError' as const
  readonly modelId: string
  constructor({ modelId, cause }: { modelId: string; cause: unknown }) {
    super(`model "${modelId}" failed while running; the call failed and must not be charged`, {
      cause,
      ...(cause instanceof Error ? {} : { details: String(cause) }),
    })
    this.modelId = modelId
  }
}

/** A dataset (or a model defined without `run`) was called. */
export class ModelNotRunnableError extends BaseError {
  override name = 'ModelNotRunnableError' as const
  readonly modelId: string
  constructor({ modelId }: { modelId: string }) {
    super(
      `"${modelId}" is a listing without a run function (a dataset) and cannot be called; name it as a parent in lineage instead`,
    )
    this.modelId = modelId
  }
}

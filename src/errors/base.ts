/** Parameters every tributary error accepts. */
export type BaseErrorParameters = {
  /** Extra lines that explain the situation or say what to do. */
  metaMessages?: readonly string[] | undefined
  /** Low-level details (an RPC message, a revert reason). */
  details?: string | undefined
  cause?: unknown
}

/**
 * The root of every tributary error: a short message that says what happened and what to do, optional
 * meta lines, details, and the cause chain.
 *
 * @example
 * ```ts
 * import { BaseError } from 'tributary'
 * try { await settleRun(client, params) } catch (e) {
 *   if (e instanceof BaseError) console.error(e.shortMessage)
 * }
 * ```
 */
export class BaseError extends Error {
  override name = 'TributaryError'
  readonly shortMessage: string
  readonly details: string | undefined
  readonly metaMessages: readonly string[]
  /**
   * false when trying again cannot help (a policy refusal, a malformed request): the workflow runtime
   * fails the step at once instead of retrying it. Undefined leaves the decision to the retry policy.
   */
  readonly retryable: boolean | undefined = undefined

  constructor(shortMessage: string, parameters: BaseErrorParameters = {}) {
    const details =
      parameters.details ??
      (parameters.cause instanceof BaseError
        ? parameters.cause.details
        : parameters.cause instanceof Error
          ? parameters.cause.message
          : undefined)
    const meta = parameters.metaMessages ?? []
    super(
      [
        shortMessage,
        ...(meta.length ? ['', ...meta] : []),
        ...(details ? ['', `Details: ${details}`] : []),
      ].join('\n'),
      parameters.cause === undefined ? undefined : { cause: parameters.cause },
    )
    this.shortMessage = shortMessage
    this.details = details
    this.metaMessages = meta
  }

  /** Walks the cause chain and returns the deepest error, or the first one `fn` accepts. */
  walk(fn?: (err: unknown) => boolean): unknown {
    let err: unknown = this
    for (;;) {
      if (fn?.(err)) return err
      const next = err instanceof Error ? err.cause : undefined
      if (next === undefined) return fn ? null : err
      err = next
    }
  }
}

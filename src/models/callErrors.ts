import { BaseError } from '../errors/base.js'

/** Which rule of a spend policy refused a call. */
export type SpendPolicyRule =
  | 'perCall'
  | 'perRun'
  | 'perDay'
  | 'modelDenied'
  | 'modelNotAllowed'
  | 'publisherDenied'
  | 'publisherNotAllowed'
  | 'maxLaneCap'
  | 'priceChanged'

/**
 * The wallet's spend policy refused the call. Raised before any voucher is signed or transaction sent:
 * nothing was paid or locked.
 */
export class SpendPolicyError extends BaseError {
  override name = 'SpendPolicyError' as const
  override readonly retryable = false
  readonly rule: SpendPolicyRule
  readonly modelId: string
  constructor(rule: SpendPolicyRule, modelId: string, message: string, hint: string) {
    super(`${message}; nothing was signed or paid`, { metaMessages: [`- ${hint}`] })
    this.rule = rule
    this.modelId = modelId
  }
}

/** What a provider said when it refused or failed a call (its JSON error body). */
export type ProviderErrorBody = {
  error?: string
  code?: string
  status?: number
  charged?: boolean
  issues?: { path: (string | number)[]; message: string; code?: string }[]
  [key: string]: unknown
}

/**
 * The provider answered with an error that retrying cannot cure (bad input, unknown model, body too
 * large, a payment it refuses), or kept failing after the retries. `charged` is the provider's word on whether
 * the call was charged (true only for `answer_unsent`: the call ran and was charged, but its answer was not
 * written; the client's retries with the same idempotency key receive it).
 */
export class ProviderCallError extends BaseError {
  override name = 'ProviderCallError' as const
  override readonly retryable: boolean
  readonly status: number
  readonly code: string
  readonly body: ProviderErrorBody
  readonly url: string
  constructor(url: string, status: number, body: ProviderErrorBody, hint?: string) {
    super(`${url} answered ${status} ${body.code ?? ''}: ${body.error ?? 'no message'}`.replace('  ', ' '), {
      metaMessages: [
        ...(body.issues ?? []).map((i) => `- ${i.path.join('.') || '(root)'}: ${i.message}`),
        ...(hint ? [`- ${hint}`] : []),
      ],
    })
    this.status = status
    // a 4xx other than 429 is an answer about the request itself: sending it again cannot change it
    this.retryable = status >= 500 || status === 429
    this.code = body.code ?? 'unknown'
    this.body = body
    this.url = url
  }
}

/** The provider could not be reached (connection refused or reset, timeout) after the retries. */
export class ProviderUnreachableError extends BaseError {
  override name = 'ProviderUnreachableError' as const
  readonly url: string
  constructor(url: string, attempts: number, cause: unknown) {
    super(`no answer from ${url} after ${attempts} attempt(s); the call was not charged by this provider`, {
      cause,
      metaMessages: [
        '- Retry later with the same idempotencyKey: a call that did run is answered from the provider cache, not charged twice.',
      ],
    })
    this.url = url
  }
}

/**
 * The provider's receipt is missing, malformed, not signed by someone who speaks for the model, or does
 * not match the call (model, version, input, output, lane, amounts). The provider may have counted the
 * call: keep `details` as evidence and stop using that provider.
 */
export class ReceiptVerificationError extends BaseError {
  override name = 'ReceiptVerificationError' as const
  readonly url: string
  constructor(url: string, reason: string) {
    super(`the receipt from ${url} does not hold: ${reason}`, {
      metaMessages: ['- Do not settle this call; report the provider (the receipt is its signed word).'],
    })
    this.url = url
  }
}

/** The provider's output does not match the output schema of the model's card. */
export class InvalidProviderOutputError extends BaseError {
  override name = 'InvalidProviderOutputError' as const
  readonly errors: readonly { instancePath: string; message?: string | undefined }[]
  constructor(modelId: string, errors: readonly { instancePath: string; message?: string | undefined }[]) {
    super(`the output of "${modelId}" does not match its card's output schema`, {
      metaMessages: errors
        .slice(0, 10)
        .map((e) => `- ${e.instancePath || '(root)'}: ${e.message ?? 'invalid'}`),
    })
    this.errors = errors
  }
}

/** A card or model reference could not be resolved (unreachable, malformed, or its hash differs on-chain). */
export class ModelResolutionError extends BaseError {
  override name = 'ModelResolutionError' as const
}

/** The 402 requirements do not fit this wallet (another chain or ledger, another model). */
export class PaymentMismatchError extends BaseError {
  override name = 'PaymentMismatchError' as const
  override readonly retryable = false
  readonly provider: string
  constructor(provider: string, reason: string) {
    super(`the provider at ${provider} asks to be paid in a way this wallet will not: ${reason}`, {
      metaMessages: ['- Use a wallet connected to the chain and ledger the model is listed on.'],
    })
    this.provider = provider
  }
}

import type { Hex } from 'viem'
import type { LedgerEntry, SettleResult } from './types.js'

type Base = { readonly runId: Hex; readonly at: number }

/** Everything a run reports, in order. */
export type RunEvent =
  | (Base & { readonly type: 'run.started'; readonly workflowId: string })
  | (Base & {
      readonly type: 'run.resumed'
      readonly workflowId: string
      readonly stepId: string | undefined
    })
  | (Base & {
      readonly type: 'step.started'
      readonly stepId: string
      readonly item: number
      readonly attempt: number
    })
  | (Base & {
      readonly type: 'step.retried'
      readonly stepId: string
      readonly item: number
      readonly attempt: number
      readonly delayMs: number
      readonly error: unknown
    })
  | (Base & {
      readonly type: 'step.succeeded'
      readonly stepId: string
      readonly item: number
      readonly durationMs: number
      /** The output came from the ledger (a paid call made before a restore); nothing was paid again. */
      readonly reused: boolean
    })
  | (Base & {
      readonly type: 'step.failed'
      readonly stepId: string
      readonly item: number
      readonly error: unknown
    })
  | (Base & { readonly type: 'step.waiting'; readonly stepId: string })
  | (Base & {
      readonly type: 'payment'
      readonly stepId: string
      readonly item: number
      readonly entry: LedgerEntry
    })
  | (Base & {
      readonly type: 'settlement'
      readonly receiptRoot: Hex
      readonly entries: number
      readonly result: SettleResult
    })
  | (Base & { readonly type: 'run.succeeded' })
  | (Base & { readonly type: 'run.suspended'; readonly waiting: readonly string[] })
  | (Base & { readonly type: 'run.failed'; readonly error: unknown })
  | (Base & { readonly type: 'run.cancelled' })

export type RunEventType = RunEvent['type']

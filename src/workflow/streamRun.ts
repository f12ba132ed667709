import type { z } from 'zod'
import type { RunEvent } from './events.js'
import { type RunOptions, type RunResult, run } from './run.js'
import type { Workflow } from './workflow.js'

export type StreamRunReturnType<O> = {
  /** Every event of the run, in order; ends when the run ends (also on failure). */
  readonly events: AsyncIterable<RunEvent>
  /** The run's outcome, as `run()` returns it (rejects as `run()` throws). */
  readonly result: Promise<RunResult<O>>
}

/**
 * Runs a workflow and exposes its typed events as an async iterable, for streaming them to a client (SSE, a
 * websocket) while the run goes on. Events are buffered, so a slow consumer never slows the run.
 *
 * @example
 * ```ts
 * const { events, result } = streamRun(docs, input, { directory, caller, settler })
 * for await (const e of events) if (e.type === 'payment') console.log(e.entry.modelId, e.entry.amount)
 * const outcome = await result
 * ```
 */
export function streamRun<W extends z.ZodType, O>(
  workflow: Workflow<W, O>,
  input: z.input<W>,
  options: RunOptions = {},
): StreamRunReturnType<O> {
  const buffer: RunEvent[] = []
  let ended = false
  let wake: (() => void) | undefined
  const notify = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  const result = run(workflow, input, {
    ...options,
    onEvent: (e) => {
      options.onEvent?.(e)
      buffer.push(e)
      notify()
    },
  })
  const end = () => {
    ended = true
    notify()
  }
  result.then(end, end)
  const events: AsyncIterable<RunEvent> = {
    async *[Symbol.asyncIterator]() {
      let i = 0
      for (;;) {
        while (i < buffer.length) yield buffer[i++] as RunEvent
        if (ended) return
        await new Promise<void>((r) => {
          wake = r
        })
      }
    },
  }
  // the caller may only iterate; keep an unobserved failure from becoming an unhandled rejection here
  result.catch(() => {})
  return { events, result }
}

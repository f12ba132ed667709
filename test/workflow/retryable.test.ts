import { describe, expect, it } from 'vitest'
import { ProviderCallError, SpendPolicyError } from '../../src/models/callErrors.js'
import { model } from '../../src/workflow/model.js'
import { run } from '../../src/workflow/run.js'
import { workflow } from '../../src/workflow/workflow.js'
import { advance, SimulatedClock, setup, Text } from './support/fixtures.js'

describe('errors that say they are not retryable', () => {
  const flow = workflow({ id: 'one-call', input: Text })
    .step(
      'up',
      model('acme/upper@^1', { input: Text, output: Text, retry: { maxAttempts: 4, initialDelayMs: 10 } }),
      ($) => ({ text: $.input.text }),
    )
    .output(($) => ({ text: $.steps.up.text }))

  it('a wallet refusal fails the step at once; a provider 5xx is retried', async () => {
    for (const [error, expected] of [
      [new SpendPolicyError('perCall', 'acme/upper', 'the call costs more than perCall', 'raise perCall'), 1],
      [new ProviderCallError('http://127.0.0.1/x', 400, { error: 'bad input', code: 'invalid_input' }), 1],
      [new ProviderCallError('http://127.0.0.1/x', 503, { error: 'busy', code: 'chain_unavailable' }), 4],
    ] as const) {
      const { directory, settler } = setup()
      let attempts = 0
      const caller = {
        async call(): Promise<never> {
          attempts++
          throw error
        },
      }
      const clock = new SimulatedClock()
      const result = run(
        flow,
        { text: 'hi' },
        { directory, caller, settler, budget: 1_000n, clock, random: () => 0 },
      ).catch((e: unknown) => e)
      await advance(clock, 2_000)
      const outcome = await result
      expect(attempts, `${error.name}: ${String((outcome as Error).message)}`).toBe(expected)
      expect(outcome).toBeInstanceOf(Error)
      expect((outcome as Error).cause ?? outcome).toBeDefined()
    }
  })
})

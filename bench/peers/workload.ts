/** The step state every engine passes around (the workload of research/peer-baselines.md). */
export type State = { runId: string; prompt: string; n: number; trail: string[] }

/** A "model call" that resolves on the microtask queue: no timer, no I/O, so only engine overhead is measured. */
export const stepFn =
  (name: string, k: number) =>
  async (s: State): Promise<State> => ({
    runId: s.runId,
    prompt: s.prompt,
    n: 2 * s.n + k,
    trail: [...s.trail, name],
  })

export const joinFn = async (parts: readonly State[]): Promise<State> => {
  const first = parts[0] as State
  let n = 0
  const trail: string[] = [...first.trail.slice(0, -1)]
  for (const p of parts) {
    n += p.n
    trail.push(p.trail[p.trail.length - 1] as string)
  }
  return { runId: first.runId, prompt: first.prompt, n, trail: [...trail, 'join'] }
}

export const CHAIN = ['s1', 's2', 's3', 's4', 's5'] as const
export const FAN = ['p1', 'p2', 'p3', 'p4'] as const
export const chainSteps = CHAIN.map((name, i) => stepFn(name, i + 1))
export const fanA = stepFn('a', 1)
export const fanP = FAN.map((name, i) => stepFn(name, i + 2))

export const input = (i: number): State => ({ runId: `r${i}`, prompt: 'hello', n: i % 7, trail: [] })

/** The reference result, computed with plain code, to check every engine's output after the clock stops. */
export async function expectedChain(s: State): Promise<State> {
  let cur = s
  for (const f of chainSteps) cur = await f(cur)
  return cur
}
export async function expectedFan(s: State): Promise<State> {
  const a = await fanA(s)
  return joinFn(await Promise.all(fanP.map((f) => f(a))))
}

export type Engine = {
  readonly name: string
  readonly chain5: (s: State) => Promise<State>
  readonly fanout4: (s: State) => Promise<State>
}

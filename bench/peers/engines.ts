import { Annotation, END, START, StateGraph } from '@langchain/langgraph'
import { createStep, createWorkflow } from '@mastra/core/workflows'
import { assign, createActor, fromPromise, setup, toPromise } from 'xstate'
import { z } from 'zod'
import { CHAIN, chainSteps, type Engine, FAN, fanA, fanP, joinFn, type State } from './workload.js'

export const plain: Engine = {
  name: 'plain',
  async chain5(s) {
    let cur = s
    for (const f of chainSteps) cur = await f(cur)
    return cur
  },
  async fanout4(s) {
    const a = await fanA(s)
    return joinFn(await Promise.all(fanP.map((f) => f(a))))
  },
}

/** Raw XState v5 written by hand: one state per step invoking a fromPromise actor; a parallel state for the fan-out. */
function xstateEngine(): Engine {
  const stepActors = Object.fromEntries(
    CHAIN.map((name, i) => [
      name,
      fromPromise<State, State>(({ input }) => (chainSteps[i] as (s: State) => Promise<State>)(input)),
    ]),
  )
  const chainMachine = setup({
    types: { context: {} as { s: State }, input: {} as State, output: {} as State },
    actors: stepActors,
  }).createMachine({
    context: ({ input }) => ({ s: input }),
    initial: 's1',
    states: {
      s1: {
        invoke: {
          src: 's1',
          input: ({ context }) => context.s,
          onDone: { target: 's2', actions: assign({ s: ({ event }) => event.output as State }) },
        },
      },
      s2: {
        invoke: {
          src: 's2',
          input: ({ context }) => context.s,
          onDone: { target: 's3', actions: assign({ s: ({ event }) => event.output as State }) },
        },
      },
      s3: {
        invoke: {
          src: 's3',
          input: ({ context }) => context.s,
          onDone: { target: 's4', actions: assign({ s: ({ event }) => event.output as State }) },
        },
      },
      s4: {
        invoke: {
          src: 's4',
          input: ({ context }) => context.s,
          onDone: { target: 's5', actions: assign({ s: ({ event }) => event.output as State }) },
        },
      },
      s5: {
        invoke: {
          src: 's5',
          input: ({ context }) => context.s,
          onDone: { target: 'done', actions: assign({ s: ({ event }) => event.output as State }) },
        },
      },
      done: { type: 'final' },
    },
    output: ({ context }) => context.s,
  })
  type FanCtx = { s: State; a?: State; p1?: State; p2?: State; p3?: State; p4?: State; out?: State }
  const fanMachine = setup({
    types: { context: {} as FanCtx, input: {} as State, output: {} as State },
    actors: {
      a: fromPromise<State, State>(({ input }) => fanA(input)),
      p1: fromPromise<State, State>(({ input }) => (fanP[0] as (s: State) => Promise<State>)(input)),
      p2: fromPromise<State, State>(({ input }) => (fanP[1] as (s: State) => Promise<State>)(input)),
      p3: fromPromise<State, State>(({ input }) => (fanP[2] as (s: State) => Promise<State>)(input)),
      p4: fromPromise<State, State>(({ input }) => (fanP[3] as (s: State) => Promise<State>)(input)),
      join: fromPromise<State, State[]>(({ input }) => joinFn(input)),
    },
  }).createMachine({
    context: ({ input }) => ({ s: input }),
    initial: 'a',
    states: {
      a: {
        invoke: {
          src: 'a',
          input: ({ context }) => context.s,
          onDone: { target: 'fan', actions: assign({ a: ({ event }) => event.output }) },
        },
      },
      fan: {
        type: 'parallel',
        states: {
          p1: {
            initial: 'run',
            states: {
              run: {
                invoke: {
                  src: 'p1',
                  input: ({ context }) => context.a as State,
                  onDone: { target: 'done', actions: assign({ p1: ({ event }) => event.output }) },
                },
              },
              done: { type: 'final' },
            },
          },
          p2: {
            initial: 'run',
            states: {
              run: {
                invoke: {
                  src: 'p2',
                  input: ({ context }) => context.a as State,
                  onDone: { target: 'done', actions: assign({ p2: ({ event }) => event.output }) },
                },
              },
              done: { type: 'final' },
            },
          },
          p3: {
            initial: 'run',
            states: {
              run: {
                invoke: {
                  src: 'p3',
                  input: ({ context }) => context.a as State,
                  onDone: { target: 'done', actions: assign({ p3: ({ event }) => event.output }) },
                },
              },
              done: { type: 'final' },
            },
          },
          p4: {
            initial: 'run',
            states: {
              run: {
                invoke: {
                  src: 'p4',
                  input: ({ context }) => context.a as State,
                  onDone: { target: 'done', actions: assign({ p4: ({ event }) => event.output }) },
                },
              },
              done: { type: 'final' },
            },
          },
        },
        onDone: 'join',
      },
      join: {
        invoke: {
          src: 'join',
          input: ({ context }) => [context.p1, context.p2, context.p3, context.p4] as State[],
          onDone: { target: 'done', actions: assign({ out: ({ event }) => event.output }) },
        },
      },
      done: { type: 'final' },
    },
    output: ({ context }) => context.out as State,
  })
  return {
    name: 'xstate',
    chain5: (s) => toPromise(createActor(chainMachine, { input: s }).start()),
    fanout4: (s) => toPromise(createActor(fanMachine, { input: s }).start()),
  }
}
export const xstate = xstateEngine()

/** LangGraph.js StateGraph over Annotation state, compiled without a checkpointer. */
function langgraphEngine(): Engine {
  const last = <T>() => Annotation<T>({ reducer: (_a: T, b: T) => b })
  const ChainState = Annotation.Root({ s: last<State>() })
  // biome-ignore lint/suspicious/noExplicitAny: LangGraph's node-name generics grow per addNode; the peer graph is built in a loop
  let cg: any = new StateGraph(ChainState)
  CHAIN.forEach((name, i) => {
    cg = cg.addNode(name, async (st: { s: State }) => ({
      s: await (chainSteps[i] as (s: State) => Promise<State>)(st.s),
    }))
  })
  cg = cg.addEdge(START, 's1')
  for (let i = 0; i < CHAIN.length - 1; i++) cg = cg.addEdge(CHAIN[i], CHAIN[i + 1])
  cg = cg.addEdge('s5', END)
  const chainGraph = cg.compile()
  const FanState = Annotation.Root({
    s: last<State>(),
    oa: last<State>(),
    o1: last<State>(),
    o2: last<State>(),
    o3: last<State>(),
    o4: last<State>(),
    out: last<State>(),
  })
  // biome-ignore lint/suspicious/noExplicitAny: as above
  let fg: any = new StateGraph(FanState).addNode('a', async (st: { s: State }) => ({ oa: await fanA(st.s) }))
  FAN.forEach((name, i) => {
    fg = fg.addNode(name, async (st: { oa: State }) => ({
      [`o${i + 1}`]: await (fanP[i] as (s: State) => Promise<State>)(st.oa),
    }))
  })
  fg = fg.addNode('join', async (st: { o1: State; o2: State; o3: State; o4: State }) => ({
    out: await joinFn([st.o1, st.o2, st.o3, st.o4]),
  }))
  fg = fg.addEdge(START, 'a')
  for (const p of FAN) fg = fg.addEdge('a', p)
  fg = fg.addEdge([...FAN], 'join').addEdge('join', END)
  const fanGraph = fg.compile()
  return {
    name: 'langgraph',
    chain5: async (s) => ((await chainGraph.invoke({ s })) as { s: State }).s,
    fanout4: async (s) => ((await fanGraph.invoke({ s })) as { out: State }).out,
  }
}
export const langgraph = langgraphEngine()

/** Mastra workflows with zod schemas (input validation on, the default); no Mastra instance, no storage. */
function mastraEngine(): Engine {
  const StateSchema = z.object({
    runId: z.string(),
    prompt: z.string(),
    n: z.number(),
    trail: z.array(z.string()),
  })
  const mk = (id: string, f: (s: State) => Promise<State>) =>
    createStep({
      id,
      inputSchema: StateSchema,
      outputSchema: StateSchema,
      execute: async ({ inputData }) => f(inputData),
    })
  const steps = CHAIN.map((name, i) => mk(name, chainSteps[i] as (s: State) => Promise<State>))
  // biome-ignore lint/suspicious/noExplicitAny: Mastra's builder generics grow per step; the peer workflow is built in a loop
  let cw: any = createWorkflow({ id: 'chain5', inputSchema: StateSchema, outputSchema: StateSchema })
  for (const st of steps) cw = cw.then(st)
  const chainWf = cw.commit()
  const a = mk('a', fanA)
  const ps = FAN.map((name, i) => mk(name, fanP[i] as (s: State) => Promise<State>))
  const join = createStep({
    id: 'join',
    inputSchema: z.object({ p1: StateSchema, p2: StateSchema, p3: StateSchema, p4: StateSchema }),
    outputSchema: StateSchema,
    execute: async ({ inputData }) => joinFn([inputData.p1, inputData.p2, inputData.p3, inputData.p4]),
  })
  const fanWf = createWorkflow({ id: 'fanout4', inputSchema: StateSchema, outputSchema: StateSchema })
    .then(a)
    // biome-ignore lint/suspicious/noExplicitAny: as above
    .parallel(ps as any)
    // biome-ignore lint/suspicious/noExplicitAny: as above
    .then(join as any)
    .commit()
  // biome-ignore lint/suspicious/noExplicitAny: run result typing differs per workflow
  const go = async (wf: any, s: State): Promise<State> => {
    const r = await (await wf.createRun()).start({ inputData: s })
    if (r.status !== 'success') throw new Error(`mastra run ${r.status}`)
    return r.result as State
  }
  return { name: 'mastra', chain5: (s) => go(chainWf, s), fanout4: (s) => go(fanWf, s) }
}
export const mastra = mastraEngine()

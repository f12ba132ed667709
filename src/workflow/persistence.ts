import type { Hex } from 'viem'
import { keccak256Hex } from '../pay/keccak.js'
import { BlobNotFoundError } from './errors.js'
import type { AttributionLedger } from './ledger.js'
import { parseSnapshotJson, snapshotJson } from './snapshotJson.js'
import type { BlobRef, SnapshotStore } from './snapshotStore.js'
import type { LedgerEntry } from './types.js'

const INLINE_STRING = 256

const isRef = (v: unknown): v is BlobRef =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as BlobRef).$blob === 'string' &&
  Object.keys(v).length === 1

/** Writes values as blobs once per run (objects are hashed once, by identity). */
export class BlobWriter {
  private readonly byObject = new WeakMap<object, Hex>()
  private readonly byString = new Map<string, Hex>()
  private readonly written = new Set<Hex>()
  private readonly pending: Promise<void>[] = []
  constructor(private readonly store: SnapshotStore) {}

  ref(value: unknown): unknown {
    if (value === null || value === undefined) return value
    const big = typeof value === 'string' && value.length > INLINE_STRING
    if (typeof value !== 'object' && !big) return value
    let hash = typeof value === 'object' ? this.byObject.get(value) : this.byString.get(value as string)
    if (!hash) {
      const text = snapshotJson(value)
      hash = keccak256Hex(Buffer.from(text, 'utf8'))
      if (typeof value === 'object') this.byObject.set(value, hash)
      else this.byString.set(value as string, hash)
      if (!this.written.has(hash)) {
        this.written.add(hash)
        this.pending.push(this.store.putBlob(hash, text))
      }
    }
    return { $blob: hash } satisfies BlobRef
  }

  /** Waits for the blob writes issued so far. */
  async flush(): Promise<void> {
    const p = this.pending.splice(0)
    if (p.length) await Promise.all(p)
  }
}

const mapValues = (o: unknown, f: (v: unknown) => unknown): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries((o ?? {}) as Record<string, unknown>)) out[k] = f(v)
  return out
}

type Persisted = {
  context: { input: unknown; outputs: Record<string, unknown>; [k: string]: unknown }
  children?: Record<string, { snapshot?: { input?: unknown; [k: string]: unknown }; [k: string]: unknown }>
  [k: string]: unknown
}

// A map actor's input is { input, outputs }; a task actor's input is the step's mapped input itself.
function mapActorInput(src: unknown, input: unknown, f: (v: unknown) => unknown): unknown {
  if (src !== 'map') return f(input)
  const m = input as { input: unknown; outputs: unknown }
  return { input: f(m.input), outputs: mapValues(m.outputs, f) }
}

function mapMachine(snapshot: unknown, f: (v: unknown) => unknown): unknown {
  const s = snapshot as Persisted
  const children: Record<string, unknown> = {}
  for (const [id, c] of Object.entries(s.children ?? {}))
    children[id] = c.snapshot
      ? { ...c, snapshot: { ...c.snapshot, input: mapActorInput(c.src, c.snapshot.input, f) } }
      : c
  return {
    ...s,
    context: { ...s.context, input: f(s.context.input), outputs: mapValues(s.context.outputs, f) },
    children,
  }
}

/** A persisted XState snapshot with values replaced by blob references. */
export function dehydrateMachine(snapshot: unknown, blobs: BlobWriter): unknown {
  return mapMachine(snapshot, (v) => blobs.ref(v))
}

/** The ledger with outputs as blob references. */
export function dehydrateLedger(ledger: AttributionLedger, blobs: BlobWriter) {
  return ledger.entries.map((entry) => ({
    entry,
    output: blobs.ref(ledger.output(entry.idempotencyKey)?.value),
  }))
}

/** Reads every blob a stored run references. */
export async function hydrate(
  store: SnapshotStore,
  machine: unknown,
  ledger: readonly { readonly entry: LedgerEntry; readonly output: unknown }[],
): Promise<{ machine: unknown; ledger: { entry: LedgerEntry; output: { value: unknown } }[] }> {
  const refs = new Set<Hex>()
  const collect = (v: unknown) => {
    if (isRef(v)) refs.add(v.$blob)
    return v
  }
  mapMachine(machine, collect)
  for (const l of ledger) collect(l.output)
  const values = new Map<Hex, unknown>()
  await Promise.all(
    [...refs].map(async (h) => {
      const text = await store.getBlob(h)
      if (text === undefined) throw new BlobNotFoundError(h)
      values.set(h, parseSnapshotJson(text))
    }),
  )
  const read = (v: unknown) => (isRef(v) ? values.get(v.$blob) : v)
  return {
    machine: mapMachine(machine, read),
    ledger: ledger.map((l) => ({ entry: l.entry, output: { value: read(l.output) } })),
  }
}

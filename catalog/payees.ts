import type { Payee } from '../src/market/card.js'

/**
 * Who is paid for each catalog model: one address for everything, a map from model id, or a function.
 * Payees are chosen by whoever publishes the catalog (the demo assigns devnet accounts).
 */
export type CatalogPayees =
  | Payee['address']
  | Readonly<Record<string, readonly Payee[]>>
  | ((id: string) => readonly Payee[])

/** Options every catalog factory accepts. */
export type CatalogModelOptions = {
  payees: CatalogPayees
  /** Overrides the model's default time budget per call. */
  timeoutMs?: number | undefined
}

/**
 * Resolves the payees of model `id`.
 *
 * @example
 * ```ts
 * resolvePayees('tributary/ocr', '0xf39F…') // [{ address: '0xf39F…', shareBps: 10000 }]
 * ```
 */
export function resolvePayees(id: string, payees: CatalogPayees): Payee[] {
  if (typeof payees === 'string') return [{ address: payees, shareBps: 10_000 }]
  const list = typeof payees === 'function' ? payees(id) : payees[id]
  if (!list)
    throw new Error(
      `no payees given for catalog model "${id}"; add an entry for it to createCatalog({ payees })`,
    )
  return list.map((p) => ({ address: p.address, shareBps: p.shareBps }))
}

/** `{ timeoutMs }` when set, `{}` otherwise (exactOptionalPropertyTypes). */
export function timeoutOption(options: CatalogModelOptions): { timeoutMs?: number } {
  return options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }
}

import { isCapabilityQuery, type ModelDirectory, type ModelRef, type ResolvedModel } from './directory.js'
import { compareVersions, parseVersion, type SemVer, satisfies } from './semver.js'

export type StaticDirectory = ModelDirectory & {
  /** Every listed model, in listing order. */
  readonly models: readonly ResolvedModel[]
}

/**
 * An in-memory model directory with real semver matching and capability/price filtering — the same contract as
 * the marketplace's discovery index. By id: the highest version in the range. By capability: the cheapest model
 * that lists it (ties go to the highest version), within `maxPricePerCall`, `token` and `range`.
 *
 * @example
 * ```ts
 * const directory = createStaticDirectory([ocrModel, sentimentModel])
 * await directory.resolve({ id: 'acme/ocr', range: '^1.2' })
 * await directory.resolve({ capability: 'sentiment', maxPricePerCall: 10n })
 * ```
 */
export function createStaticDirectory(models: readonly ResolvedModel[]): StaticDirectory {
  const parsed = models.map((m) => {
    const v = parseVersion(m.version)
    if (!v) throw new Error(`model ${m.id} has version "${m.version}", which is not semver`)
    return [m, v] as const
  })
  const pick = (ref: ModelRef): ResolvedModel | undefined => {
    let best: readonly [ResolvedModel, SemVer] | undefined
    if (!isCapabilityQuery(ref)) {
      for (const entry of parsed) {
        if (entry[0].id !== ref.id || !satisfies(entry[1], ref.range)) continue
        if (!best || compareVersions(entry[1], best[1]) > 0) best = entry
      }
      return best?.[0]
    }
    for (const entry of parsed) {
      const [m, v] = entry
      if (!m.capabilities.includes(ref.capability)) continue
      if (ref.alsoCapabilities?.some((c) => !m.capabilities.includes(c))) continue
      if (ref.maxPricePerCall !== undefined && m.pricePerCall > ref.maxPricePerCall) continue
      if (ref.token !== undefined && m.token.toLowerCase() !== ref.token.toLowerCase()) continue
      if (ref.range !== undefined && !satisfies(v, ref.range)) continue
      if (
        !best ||
        m.pricePerCall < best[0].pricePerCall ||
        (m.pricePerCall === best[0].pricePerCall && compareVersions(v, best[1]) > 0)
      )
        best = entry
    }
    return best?.[0]
  }
  return { models, resolve: pick }
}

/** A parsed semantic version. */
export type SemVer = {
  readonly major: number
  readonly minor: number
  readonly patch: number
  readonly prerelease: readonly (string | number)[]
}

const VERSION = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/

/**
 * Parses `1.2.3`, `1.2.3-beta.1` (build metadata ignored). Returns `undefined` when it is not a version.
 *
 * @example
 * ```ts
 * parseVersion('1.4.0-rc.1') // { major: 1, minor: 4, patch: 0, prerelease: ['rc', 1] }
 * ```
 */
export function parseVersion(text: string): SemVer | undefined {
  const m = VERSION.exec(text.trim())
  if (!m) return undefined
  return {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    prerelease: m[4] ? m[4].split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : [],
  }
}

/**
 * Orders two versions by semver precedence: negative, zero or positive.
 *
 * @example
 * ```ts
 * compareVersions(parseVersion('1.0.0-rc.1')!, parseVersion('1.0.0')!) < 0 // true
 * ```
 */
export function compareVersions(a: SemVer, b: SemVer): number {
  if (a.major !== b.major) return a.major - b.major
  if (a.minor !== b.minor) return a.minor - b.minor
  if (a.patch !== b.patch) return a.patch - b.patch
  if (!a.prerelease.length || !b.prerelease.length) return b.prerelease.length - a.prerelease.length
  for (let i = 0; i < Math.max(a.prerelease.length, b.prerelease.length); i++) {
    const x = a.prerelease[i]
    const y = b.prerelease[i]
    if (x === undefined) return -1
    if (y === undefined) return 1
    if (x === y) continue
    if (typeof x === 'number' && typeof y === 'number') return x - y
    if (typeof x === 'number') return -1
    if (typeof y === 'number') return 1
    return x < y ? -1 : 1
  }
  return 0
}

type Op = '<' | '<=' | '>' | '>=' | '='
type Comparator = { op: Op; v: SemVer }

const PARTIAL = /^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?$/

type Partial3 = { major?: number; minor?: number; patch?: number; prerelease: (string | number)[] }

function parsePartial(text: string): Partial3 | undefined {
  const m = PARTIAL.exec(text)
  if (!m) return undefined
  const num = (s: string | undefined) => (s === undefined || /^[xX*]$/.test(s) ? undefined : Number(s))
  const major = num(m[1])
  const minor = major === undefined ? undefined : num(m[2])
  const patch = minor === undefined ? undefined : num(m[3])
  const out: Partial3 = {
    prerelease: m[4] ? m[4].split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : [],
  }
  if (major !== undefined) out.major = major
  if (minor !== undefined) out.minor = minor
  if (patch !== undefined) out.patch = patch
  return out
}

const v = (major: number, minor: number, patch: number, prerelease: (string | number)[] = []): SemVer => ({
  major,
  minor,
  patch,
  prerelease,
})

function expand(token: string): Comparator[] | undefined {
  const m = /^(\^|~|>=|<=|>|<|=)?\s*(.+)$/.exec(token)
  if (!m) return undefined
  const op = m[1] ?? ''
  const p = parsePartial(m[2] ?? '')
  if (!p) return undefined
  const { major, minor, patch, prerelease } = p
  if (major === undefined) return op === '<' || op === '>' ? [{ op: '<', v: v(0, 0, 0) }] : []
  const lo = v(major, minor ?? 0, patch ?? 0, prerelease)
  switch (op) {
    case '^': {
      const hi =
        major > 0 || minor === undefined
          ? v(major + 1, 0, 0)
          : minor > 0 || patch === undefined
            ? v(0, minor + 1, 0)
            : v(0, 0, patch + 1)
      return [
        { op: '>=', v: lo },
        { op: '<', v: hi },
      ]
    }
    case '~': {
      const hi = minor === undefined ? v(major + 1, 0, 0) : v(major, minor + 1, 0)
      return [
        { op: '>=', v: lo },
        { op: '<', v: hi },
      ]
    }
    case '>':
      if (minor === undefined) return [{ op: '>=', v: v(major + 1, 0, 0) }]
      if (patch === undefined) return [{ op: '>=', v: v(major, minor + 1, 0) }]
      return [{ op: '>', v: lo }]
    case '<=':
      if (minor === undefined) return [{ op: '<', v: v(major + 1, 0, 0) }]
      if (patch === undefined) return [{ op: '<', v: v(major, minor + 1, 0) }]
      return [{ op: '<=', v: lo }]
    case '>=':
    case '<':
      return [{ op, v: lo }]
    default:
      if (minor === undefined)
        return [
          { op: '>=', v: lo },
          { op: '<', v: v(major + 1, 0, 0) },
        ]
      if (patch === undefined)
        return [
          { op: '>=', v: lo },
          { op: '<', v: v(major, minor + 1, 0) },
        ]
      return [{ op: '=', v: lo }]
  }
}

/**
 * A parsed semver range: `^1.2`, `~1.2.3`, `1.x`, `>=1.0.0 <2.0.0`, `1.2.3 - 1.4`, `^1 || ^2`, `*`.
 * Returns `undefined` when the text is not a range.
 *
 * @example
 * ```ts
 * satisfies('1.4.2', '^1.2') // true
 * ```
 */
export function parseRange(range: string): Comparator[][] | undefined {
  const sets: Comparator[][] = []
  for (const alt of range.split('||')) {
    const text = alt.trim()
    const set: Comparator[] = []
    const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(text)
    if (hyphen) {
      const lo = expand(`>=${hyphen[1]}`)
      const hiP = parsePartial(hyphen[2] ?? '')
      if (!lo || !hiP) return undefined
      const hi =
        hiP.major === undefined
          ? []
          : hiP.minor === undefined
            ? [{ op: '<' as const, v: v(hiP.major + 1, 0, 0) }]
            : hiP.patch === undefined
              ? [{ op: '<' as const, v: v(hiP.major, hiP.minor + 1, 0) }]
              : [{ op: '<=' as const, v: v(hiP.major, hiP.minor, hiP.patch, hiP.prerelease) }]
      sets.push([...lo, ...hi])
      continue
    }
    const tokens = text === '' ? ['*'] : text.replace(/(\^|~|>=|<=|>|<|=)\s+/g, '$1').split(/\s+/)
    for (const t of tokens) {
      const c = expand(t)
      if (!c) return undefined
      set.push(...c)
    }
    sets.push(set)
  }
  return sets
}

function test(c: Comparator, ver: SemVer): boolean {
  const d = compareVersions(ver, c.v)
  switch (c.op) {
    case '<':
      return d < 0
    case '<=':
      return d <= 0
    case '>':
      return d > 0
    case '>=':
      return d >= 0
    default:
      return d === 0
  }
}

/**
 * Whether `version` is in `range`, with npm's rule that a prerelease matches only a comparator that names a
 * prerelease of the same `major.minor.patch`.
 *
 * @example
 * ```ts
 * satisfies('2.0.0', '^1.2') // false
 * ```
 */
export function satisfies(version: string | SemVer, range: string): boolean {
  const ver = typeof version === 'string' ? parseVersion(version) : version
  const sets = parseRange(range)
  if (!ver || !sets) return false
  return sets.some((set) => {
    if (!set.every((c) => test(c, ver))) return false
    if (!ver.prerelease.length) return true
    return set.some(
      (c) =>
        c.v.prerelease.length > 0 &&
        c.v.major === ver.major &&
        c.v.minor === ver.minor &&
        c.v.patch === ver.patch,
    )
  })
}

/**
 * Where a benchmark writes its figures: `bench/results/<name>`, whether the script runs from its sources or, as
 * `npm run bench:*` runs it, compiled to `dist-bench/bench/` (the code measured is then the JavaScript the package ships).
 */
export function resultsFile(name: string, from: string): URL {
  return new URL(`${from.includes('/dist-bench/bench/') ? '../../bench/' : './'}results/${name}`, from)
}

/** Which code a benchmark measures: the compiled JavaScript the package ships, or the sources through tsx. */
export function codeMeasured(from: string): string {
  return from.endsWith('.ts')
    ? 'TypeScript sources through tsx (its keepNames wrappers included)'
    : 'compiled by tsc to dist-bench/ and run by node, as the package ships (npm run bench:*)'
}

#!/usr/bin/env node
// A native-solc look-alike for forge (`forge build --use scripts/solc`): forge cannot download a
// compiler here, so this answers `--version` and compiles `--standard-json` from stdin through the
// pinned npm `solc` package.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'

const require = createRequire(import.meta.url)
const solc = require('solc')
const args = process.argv.slice(2)

if (args.includes('--version') || args.includes('-v')) {
  const version = solc.version().replace('.Emscripten.clang', '.Linux.g++')
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${version}\n`)
  process.exit(0)
}

if (!args.includes('--standard-json')) {
  process.stderr.write('solc shim: only --version and --standard-json are supported\n')
  process.exit(1)
}

const roots = [process.cwd()]
for (let i = 0; i < args.length; i++) {
  if ((args[i] === '--base-path' || args[i] === '--include-path') && args[i + 1])
    roots.push(path.resolve(args[i + 1]))
}

function findImports(importPath) {
  for (const root of roots) {
    try {
      return { contents: readFileSync(path.resolve(root, importPath), 'utf8') }
    } catch {}
  }
  return { error: `File not found: ${importPath}` }
}

const input = readFileSync(0, 'utf8')
// solc-js may print a warning line (SMT solver) to stdout; keep stdout for the JSON alone
const write = process.stdout.write.bind(process.stdout)
process.stdout.write = () => true
const output = solc.compile(input, { import: findImports })
process.stdout.write = write
process.stdout.write(output)

#!/usr/bin/env node
// `npm test`: the vitest suites, then the forge suites; each prints its pass/fail counts, and a last
// line sums both as "N passed, N failed".
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const bin = (n) => path.join(root, 'node_modules', '.bin', n)
const ESC = String.fromCharCode(27)
const strip = (s) =>
  s
    .split(ESC)
    .map((part, i) => (i === 0 ? part : part.replace(/^\[[0-9;]*m/, '')))
    .join('')

function run(cmd, args) {
  return new Promise((resolve) => {
    let out = ''
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, FORCE_COLOR: '0' } })
    child.stdout.on('data', (d) => {
      out += d
      process.stdout.write(d)
    })
    child.stderr.on('data', (d) => {
      out += d
      process.stderr.write(d)
    })
    child.on('close', (code) => resolve({ code: code ?? 1, out: strip(out) }))
  })
}

const only = process.argv[2]
let passed = 0
let failed = 0
let ok = true

if (only !== 'forge') {
  const v = await run(bin('vitest'), ['run', ...process.argv.slice(only === 'vitest' ? 3 : 2)])
  const p = /Tests\s+(?:(\d+) failed \| )?(\d+) passed/.exec(v.out)
  const f = /Tests\s+(\d+) failed/.exec(v.out)
  passed += Number(p?.[2] ?? 0)
  failed += Number(f?.[1] ?? 0)
  console.log(`vitest: ${p?.[2] ?? 0} passed, ${f?.[1] ?? 0} failed`)
  if (v.code !== 0) ok = false
}

if (only !== 'vitest') {
  const f = await run(bin('forge'), ['test', '--use', path.join(root, 'scripts', 'solc'), '--offline'])
  const m = /(\d+) tests passed, (\d+) failed/.exec(f.out)
  passed += Number(m?.[1] ?? 0)
  failed += Number(m?.[2] ?? 0)
  console.log(`forge: ${m?.[1] ?? 0} passed, ${m?.[2] ?? 0} failed`)
  if (f.code !== 0 || !m) ok = false
}

console.log(`${passed} passed, ${failed} failed`)
process.exit(ok && failed === 0 ? 0 : 1)

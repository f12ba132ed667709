#!/usr/bin/env node
// Runs forge with the project's compiler shim (forge cannot download solc here).
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const forge = path.join(root, 'node_modules', '.bin', 'forge')
const args = [...process.argv.slice(2), '--use', path.join(root, 'scripts', 'solc'), '--offline']
const r = spawnSync(forge, args, { cwd: root, stdio: 'inherit' })
process.exit(r.status ?? 1)

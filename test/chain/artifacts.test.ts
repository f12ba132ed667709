import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, test } from 'vitest'
import { generate } from '../../scripts/build-contracts.mjs'

describe('generated contract artifacts', () => {
  test('match a fresh compile of contracts/src with the pinned solc', { timeout: 120_000 }, () => {
    const files = generate()
    expect(Object.keys(files).sort()).toEqual([
      'src/chain/generated/Ledger.ts',
      'src/chain/generated/ModelRegistry.ts',
      'src/chain/generated/TestStablecoin.ts',
    ])
    for (const [file, text] of Object.entries(files)) {
      const committed = readFileSync(path.join(import.meta.dirname, '../..', file), 'utf8')
      // a mismatch means contracts/src changed without `npm run contracts:build`
      expect(committed, `${file} drifted from contracts/src`).toBe(text)
    }
  })
})

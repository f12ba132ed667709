import { spawn } from 'node:child_process'
import path from 'node:path'
import { parseUnits } from 'viem'
import { describe, expect, test } from 'vitest'
import { createCatalog } from '../../catalog/index.js'
import type { DemoReport } from '../../src/cli/demo.js'

const root = path.join(import.meta.dirname, '../..')

function npmStart(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['start', '--', ...args], { cwd: root, env: { ...process.env, CI: 'true' } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }))
  })
}

describe('npm start -- --json', () => {
  test('prints one JSON object whose every credit matches the published terms and lineage', {
    timeout: 120_000,
  }, async () => {
    const started = Date.now()
    const { code, stdout, stderr } = await npmStart(['--json'])
    expect(code, stderr).toBe(0)
    // stdout is exactly one JSON object: nothing else
    const report = JSON.parse(stdout) as DemoReport
    expect(Date.now() - started).toBeLessThan(60_000)

    expect(report.runs).toHaveLength(1)
    const [runInfo] = report.runs
    expect(runInfo).toMatchObject({ workflow: 'document-intelligence', calls: 5 })
    expect(runInfo?.id).toMatch(/^0x[0-9a-f]{64}$/)
    expect(runInfo?.receiptRoot).toMatch(/^0x[0-9a-f]{64}$/)
    expect(runInfo?.settlementTx).toMatch(/^0x[0-9a-f]{64}$/)
    const output = runInfo?.output as { text: string; language: string; sentiment: string }
    expect(output.text).toMatch(/Customer report from Berlin/)
    expect(output.language).toBe('en')
    expect(output.sentiment).toBe('positive')

    // the independent computation: the catalog's own terms and lineage, one call per model step
    const catalog = createCatalog({ payees: '0x0000000000000000000000000000000000000001' })
    const byId = new Map(catalog.all.map((d) => [d.id, d]))
    const called = [
      'tributary/ocr',
      'tributary/language-id',
      'tributary/review-sentiment',
      'tributary/entities',
      'tributary/summarize',
    ]
    const expected = new Map<string, bigint>()
    const add = (key: string, v: bigint) => expected.set(key, (expected.get(key) ?? 0n) + v)
    let paid = 0n
    for (const id of called) {
      const def = byId.get(id)
      if (!def) throw new Error(`catalog has no ${id}`)
      const price = def.terms.pricePerCall
      paid += price
      let rest = price
      // the flattened lineage: parents and their ancestors, each with its own royalty
      const ancestors = new Set<string>()
      const visit = (p: string) => {
        if (ancestors.has(p)) return
        ancestors.add(p)
        for (const q of byId.get(p)?.lineage.parents ?? []) visit(q)
      }
      for (const p of def.lineage.parents) visit(p)
      for (const a of ancestors) {
        const bps = BigInt(byId.get(a)?.terms.royaltyBps ?? 0)
        const share = (price * bps) / 10_000n
        if (share === 0n && bps === 0n) continue
        rest -= share
        add(`${a}|ancestor|${id}`, share)
      }
      add(`${id}|model|${id}`, rest)
    }
    const got = new Map<string, bigint>()
    for (const c of report.credits) {
      expect(c.settlementTx).toBe(runInfo?.settlementTx)
      const key = `${c.id}|${c.role}|${c.ofModel}`
      got.set(key, (got.get(key) ?? 0n) + parseUnits(c.amount, report.chain.decimals))
    }
    expect(got).toEqual(expected)
    expect(parseUnits(report.totals.paid, report.chain.decimals)).toBe(paid)
    expect([...got.values()].reduce((s, v) => s + v, 0n)).toBe(paid)
    // a derivative and a dataset-trained model paid their ancestors
    expect(
      report.credits
        .filter((c) => c.role === 'ancestor')
        .map((c) => c.id)
        .sort(),
    ).toEqual(['tributary/reviews-corpus', 'tributary/sentiment'])
  })

  test('refuses unknown flags with a usage message and exit code 2', async () => {
    const { code, stdout, stderr } = await npmStart(['--bogus'])
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toMatch(/unknown flag "--bogus" for demo/)
    expect(stderr).toMatch(/usage: tributary/)
  })
})

import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createStaticDirectory } from '../../src/market/createStaticDirectory.js'
import { checkSubschema, schemaAtPath } from '../../src/market/jsonSchema.js'
import { satisfies } from '../../src/market/semver.js'
import { parseModelRef } from '../../src/workflow/parseModelRef.js'
import { listings, token } from './support/fixtures.js'

describe('semver ranges', () => {
  it.each([
    ['1.4.2', '^1.2', true],
    ['2.0.0', '^1.2', false],
    ['1.1.9', '^1.2', false],
    ['0.2.5', '^0.2', true],
    ['0.3.0', '^0.2', false],
    ['0.0.3', '^0.0.3', true],
    ['0.0.4', '^0.0.3', false],
    ['1.2.9', '~1.2', true],
    ['1.3.0', '~1.2.3', false],
    ['1.9.0', '1.x', true],
    ['1.2.3', '1.2.3', true],
    ['1.2.4', '1.2.3', false],
    ['1.5.0', '>=1.2.0 <2.0.0', true],
    ['2.0.0', '>=1.2.0 <2.0.0', false],
    ['1.3.0', '1.2.3 - 1.4', true],
    ['1.5.0', '1.2.3 - 1.4', false],
    ['3.1.0', '^1 || ^3', true],
    ['9.9.9', '*', true],
    ['2.0.0-beta.1', '^1', false],
    ['2.0.0-beta.2', '>=2.0.0-beta.1 <3', true],
    ['2.0.1-beta.2', '>=2.0.0-beta.1 <3', false],
    ['1.0.0', 'not a range', false],
  ])('%s in %s → %s', (version, range, expected) => {
    expect(satisfies(version, range)).toBe(expected)
  })

  it('parses references and refuses malformed ones', () => {
    expect(parseModelRef('acme/ocr@^1.2')).toEqual({ id: 'acme/ocr', range: '^1.2' })
    expect(parseModelRef('acme/ocr')).toEqual({ id: 'acme/ocr', range: '*' })
    expect(parseModelRef('@scope/pkg@~2')).toEqual({ id: '@scope/pkg', range: '~2' })
    expect(() => parseModelRef('acme/ocr@!!')).toThrow(/not a model reference/)
  })
})

describe('static directory', () => {
  const dir = createStaticDirectory(listings)
  it('resolves an id to the highest version in range', async () => {
    expect((await dir.resolve({ id: 'acme/upper', range: '^1' }))?.version).toBe('1.4.1')
    expect((await dir.resolve({ id: 'acme/upper', range: '~1.2' }))?.version).toBe('1.2.0')
    expect((await dir.resolve({ id: 'acme/upper', range: '*' }))?.version).toBe('2.0.0')
    expect(await dir.resolve({ id: 'acme/upper', range: '^3' })).toBeUndefined()
  })
  it('resolves a capability to the cheapest model within price, token, range and extra capabilities', async () => {
    expect((await dir.resolve({ capability: 'sentiment' }))?.id).toBe('cheap/sentiment')
    expect((await dir.resolve({ capability: 'sentiment', range: '^1' }))?.id).toBe('moods/sentiment')
    expect(await dir.resolve({ capability: 'sentiment', maxPricePerCall: 7n })).toBeUndefined()
    expect(
      await dir.resolve({ capability: 'sentiment', token: '0x00000000000000000000000000000000000000bb' }),
    ).toBeUndefined()
    expect(
      (
        await dir.resolve({
          capability: 'sentiment',
          token: token.toUpperCase().replace('0X', '0x') as `0x${string}`,
        })
      )?.id,
    ).toBe('cheap/sentiment')
    expect((await dir.resolve({ capability: 'upper', maxPricePerCall: 6n }))?.version).toBe('1.2.0')
    expect(await dir.resolve({ capability: 'upper', alsoCapabilities: ['math'] })).toBeUndefined()
  })
})

describe('structural JSON Schema check', () => {
  const js = (s: z.ZodType, io: 'input' | 'output' = 'output') => z.toJSONSchema(s, { io })
  it('accepts subtypes and refuses conflicts', () => {
    expect(
      checkSubschema(
        js(z.object({ a: z.string(), b: z.number() })),
        js(z.object({ a: z.string() }), 'input'),
      ),
    ).toEqual([])
    expect(checkSubschema(js(z.number().int()), js(z.number(), 'input'))).toEqual([])
    expect(checkSubschema(js(z.enum(['a', 'b'])), js(z.string(), 'input'))).toEqual([])
    expect(checkSubschema(js(z.literal('a')), js(z.enum(['a', 'b']), 'input'))).toEqual([])
    expect(checkSubschema(js(z.enum(['a', 'c'])), js(z.enum(['a', 'b']), 'input'))[0]?.message).toContain(
      '"c" is not one of',
    )
    expect(checkSubschema(js(z.string()), js(z.number(), 'input'))[0]?.severity).toBe('error')
    expect(checkSubschema(js(z.string().nullable()), js(z.string(), 'input'))[0]?.message).toContain('null')
    expect(checkSubschema(js(z.array(z.number())), js(z.array(z.string()), 'input'))[0]?.path).toBe('/*')
    expect(
      checkSubschema(js(z.object({ a: z.string() })), js(z.object({ a: z.string() }).strict(), 'input')),
    ).toEqual([])
    expect(
      checkSubschema(
        js(z.object({ a: z.string(), b: z.string() })),
        js(z.object({ a: z.string() }).strict(), 'input'),
      )[0]?.path,
    ).toBe('/b')
    expect(checkSubschema(js(z.string()), js(z.union([z.number(), z.string()]), 'input'))).toEqual([])
    const warn = checkSubschema(js(z.string()), js(z.string().min(3), 'input'))
    expect(warn).toEqual([
      expect.objectContaining({ severity: 'warning', message: expect.stringContaining('minLength') }),
    ])
  })
  it('walks paths through objects, arrays, unions and records', () => {
    const s = js(
      z.object({
        a: z.object({ list: z.array(z.object({ v: z.number() })) }),
        o: z.string().optional(),
        r: z.record(z.string(), z.number()),
      }),
    )
    expect(schemaAtPath(s, ['a', 'list', 0, 'v'])).toEqual({
      found: true,
      schema: expect.objectContaining({ type: 'number' }),
      optional: false,
    })
    expect(schemaAtPath(s, ['o'])).toMatchObject({ found: true, optional: true })
    expect(schemaAtPath(s, ['r', 'anything'])).toMatchObject({
      found: true,
      optional: true,
      schema: { type: 'number' },
    })
    expect(schemaAtPath(s, ['a', 'nope'])).toEqual({ found: false, at: '/a/nope' })
    expect(schemaAtPath(undefined, ['x', 'y'])).toMatchObject({ found: true, schema: undefined })
  })
})

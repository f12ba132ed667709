import { keccak256, toHex } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  keccak256Bytes,
  keccak256Hex,
  keccak256Prefix,
  keccak256Resume,
  keccakInWasm,
  keccakReady,
  useWasmKeccak,
} from '../../src/pay/keccak.js'

await keccakReady

describe.each([
  ['unrolled JS, 32-bit halves', false],
  ['WebAssembly', true],
])('keccak256 (%s)', (_, wasm) => {
  beforeAll(() => useWasmKeccak(wasm))
  afterAll(() => useWasmKeccak(true))
  test('runs where it says', () => {
    expect(keccakInWasm()).toBe(wasm)
  })

  test('agrees with viem for every length across three blocks, and for random bytes', () => {
    for (let n = 0; n <= 3 * 136 + 1; n++) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 131 + n * 7) & 255)
      expect(keccak256Hex(bytes)).toBe(keccak256(bytes))
    }
    for (let k = 0; k < 50; k++) {
      const bytes = crypto.getRandomValues(new Uint8Array(1 + Math.floor(Math.random() * 1000)))
      expect(keccak256Hex(bytes)).toBe(keccak256(bytes))
    }
  })
  test('known vectors', () => {
    expect(keccak256Hex(new Uint8Array())).toBe(
      '0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470',
    )
    expect(keccak256Hex(new TextEncoder().encode('abc'))).toBe(
      '0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45',
    )
    expect(keccak256Bytes(new Uint8Array(32))).toHaveLength(32)
  })
  test('a resumed prefix hashes like the whole message, for every length past the first block', () => {
    const head = new Uint8Array(136).map((_, i) => (i * 17) & 255)
    const prefix = keccak256Prefix(head)
    for (let n = 136; n <= 3 * 136 + 1; n++) {
      const bytes = new Uint8Array(n).map((_, i) => (i < 136 ? (head[i] as number) : (i * 29 + n) & 255))
      expect(toHex(keccak256Resume(prefix, bytes))).toBe(keccak256(bytes))
      // the prefix is not consumed by a resume or by another hash in between
      expect(keccak256Hex(bytes.subarray(1))).toBe(keccak256(bytes.subarray(1)))
    }
    expect(() => keccak256Prefix(new Uint8Array(10))).toThrow(RangeError)
  })
})

test('the WebAssembly keccak is at least as fast as the JS one on a receipt-sized message', () => {
  const bytes = new Uint8Array(320).fill(7)
  const time = (wasm: boolean) => {
    useWasmKeccak(wasm)
    for (let i = 0; i < 2_000; i++) keccak256Bytes(bytes)
    const t = performance.now()
    for (let i = 0; i < 20_000; i++) keccak256Bytes(bytes)
    return performance.now() - t
  }
  // the best of three each, interleaved, so that a busy machine slows both alike
  let js = Number.POSITIVE_INFINITY
  let wasm = Number.POSITIVE_INFINITY
  for (let k = 0; k < 3; k++) {
    js = Math.min(js, time(false))
    wasm = Math.min(wasm, time(true))
  }
  expect(wasm).toBeLessThan(js)
})

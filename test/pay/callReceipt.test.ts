import { hashTypedData, keccak256, recoverTypedDataAddress, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, test } from 'vitest'
import {
  type CallReceipt,
  callReceiptDomain,
  callReceiptHasher,
  callReceiptTypes,
} from '../../src/pay/callReceipt.js'
import { signCallReceipt } from '../../src/pay/signCallReceipt.js'
import { verifyCallReceipt } from '../../src/pay/verifyCallReceipt.js'

const privateKey = keccak256(toHex('receipt signer'))
const account = privateKeyToAccount(privateKey)
const ledger = '0x8a991c00417f58198dee248778f961a61f70bfd4'
const receipt: CallReceipt = {
  laneId: keccak256(toHex('lane')),
  assetId: 7n,
  model: 'acme/shout',
  version: '1.0.0',
  inputHash: keccak256(toHex('in')),
  outputHash: keccak256(toHex('out')),
  amount: 1_000n,
  cumulative: 123_000n,
  voucher: (1n << 200n) + 5n,
}

describe('call receipts', () => {
  test('the cached digest is EIP-712 as viem computes it', () => {
    const viem = hashTypedData({
      domain: callReceiptDomain(31337, ledger),
      types: callReceiptTypes,
      primaryType: 'CallReceipt',
      message: receipt,
    })
    expect(toHex(callReceiptHasher(31337, ledger).digest(receipt))).toBe(viem)
    expect(toHex(callReceiptHasher(1, ledger).digest(receipt))).not.toBe(viem)
    // the hasher keeps the head of the last lane, model and version: alternating receipts still agree
    const others: CallReceipt[] = [
      { ...receipt, laneId: keccak256(toHex('another lane')) },
      { ...receipt, assetId: 8n },
      { ...receipt, model: 'acme/whisper' },
      { ...receipt, version: '1.0.1' },
      { ...receipt, cumulative: 124_000n, voucher: 125_000n },
      receipt,
    ]
    for (const r of [...others, ...others]) {
      const expected = hashTypedData({
        domain: callReceiptDomain(31337, ledger),
        types: callReceiptTypes,
        primaryType: 'CallReceipt',
        message: r,
      })
      expect(toHex(callReceiptHasher(31337, ledger).digest(r))).toBe(expected)
    }
  })

  test('the native and the viem signature agree, and recover to the provider', async () => {
    const fast = await signCallReceipt({ account, privateKey, chainId: 31337, ledger, receipt })
    const slow = await signCallReceipt({ account, chainId: 31337, ledger, receipt })
    expect(fast).toBe(slow)
    expect(
      await recoverTypedDataAddress({
        domain: callReceiptDomain(31337, ledger),
        types: callReceiptTypes,
        primaryType: 'CallReceipt',
        message: receipt,
        signature: fast,
      }),
    ).toBe(account.address)
    expect(await verifyCallReceipt({ chainId: 31337, ledger, receipt, signature: fast })).toEqual({
      valid: true,
      signer: account.address.toLowerCase(),
    })
    const tampered = await verifyCallReceipt({
      chainId: 31337,
      ledger,
      receipt: { ...receipt, amount: 999n },
      signature: fast,
    })
    expect(tampered.valid && tampered.signer.toLowerCase()).not.toBe(account.address.toLowerCase())
    expect(await verifyCallReceipt({ chainId: 31337, ledger, receipt, signature: '0x1234' })).toMatchObject({
      valid: false,
    })
  })
})

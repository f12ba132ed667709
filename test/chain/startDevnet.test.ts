import { erc20Abi } from 'viem'
import { describe, expect, test } from 'vitest'
import { readContract } from '../../src/chain/client.js'
import { connect, InvalidConnectionError } from '../../src/chain/connect.js'
import { ledgerAbi } from '../../src/chain/generated/Ledger.js'
import { startDevnet } from '../../src/chain/startDevnet.js'

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('startDevnet', () => {
  test('deploys the market on a loopback anvil, funds accounts, and stops by PID with await using', async () => {
    let pid = 0
    {
      await using devnet = await startDevnet({ accounts: 3, stablecoinPerAccount: 5_000_000n })
      pid = devnet.pid
      expect(alive(pid)).toBe(true)
      expect(devnet.rpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      const c = devnet.client(2)
      expect(c.addresses).toEqual(devnet.addresses)
      const balance = await readContract<bigint>(c, {
        address: devnet.addresses.stablecoin,
        abi: erc20Abi,
        functionName: 'balanceOf',
        args: [devnet.accounts[2]!.address],
      })
      expect(balance).toBe(5_000_000n)
      expect(
        await readContract<boolean>(c, {
          address: devnet.addresses.ledger,
          abi: ledgerAbi,
          functionName: 'tokenAllowed',
          args: [devnet.addresses.stablecoin],
        }),
      ).toBe(true)
      expect(
        await readContract<number>(c, {
          address: devnet.addresses.stablecoin,
          abi: erc20Abi,
          functionName: 'decimals',
        }),
      ).toBe(6)

      // connect() gives the same handle for any EVM RPC
      const connected = await connect({
        rpcUrl: devnet.rpcUrl,
        account: devnet.accounts[1]!.privateKey,
        addresses: devnet.addresses,
      })
      expect(connected.chain.id).toBe(31337)
      expect(connected.account.address).toBe(devnet.accounts[1]!.address)
      const before = await devnet.testClient.request({ method: 'eth_blockNumber' as never })
      await devnet.increaseTime(3600)
      expect(await devnet.testClient.request({ method: 'eth_blockNumber' as never })).not.toBe(before)
      expect(() => devnet.client(3)).toThrow(/account 3 does not exist/)
    }
    // disposed: the anvil process is gone
    await new Promise((r) => setTimeout(r, 100))
    expect(alive(pid)).toBe(false)
  })

  test('connect() refuses malformed parameters and unreachable nodes with typed errors', async () => {
    await expect(
      connect({
        rpcUrl: 'not a url',
        account: `0x${'11'.repeat(32)}`,
        addresses: { registry: '0x1', ledger: '0x2' },
      }),
    ).rejects.toBeInstanceOf(InvalidConnectionError)
    const err = await connect({
      rpcUrl: 'http://127.0.0.1:9',
      account: `0x${'11'.repeat(32)}`,
      addresses: { registry: `0x${'00'.repeat(20)}`, ledger: `0x${'00'.repeat(20)}` },
    }).catch((e) => e)
    expect(err).toBeInstanceOf(InvalidConnectionError)
    expect(err.shortMessage).toMatch(/no EVM node answers at http:\/\/127.0.0.1:9/)
  })
})

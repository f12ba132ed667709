import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import path from 'node:path'
import {
  type Address,
  createPublicClient,
  createTestClient,
  createWalletClient,
  defineChain,
  type Hex,
  http,
  keccak256,
  type LocalAccount,
  type TestClient,
  toHex,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { BaseError } from '../errors/base.js'
import { createTributaryClient, sendContract, type TributaryClient } from './client.js'
import { deployMarket } from './deployMarket.js'
import { testStablecoinAbi } from './generated/TestStablecoin.js'

export type StartDevnetParameters = {
  /** How many funded accounts to create (default 10). Account 0 deploys and owns the contracts. */
  accounts?: number | undefined
  /** Test stablecoin units minted to each account (default 1 000 000 tUSD = 10^12 units). */
  stablecoinPerAccount?: bigint | undefined
  /** Seconds after a lane's expiry during which providers can still redeem (default one hour). */
  reclaimDelay?: bigint | undefined
  /** Milliseconds to wait for anvil to answer (default 20 000). */
  startTimeoutMs?: number | undefined
  /** Extra anvil flags (for example `--steps-tracing` to profile gas by opcode). */
  anvilArgs?: readonly string[] | undefined
}

/** A running local chain with the marketplace deployed. Stop it with `stop()` or `await using`. */
export type Devnet = {
  rpcUrl: string
  chainId: number
  pid: number
  addresses: { registry: Address; ledger: Address; stablecoin: Address }
  /** Funded accounts (deterministic keys); `accounts[0]` owns the contracts. */
  accounts: readonly DevnetAccount[]
  /** A client for account `i` (default 0). */
  client(i?: number): TributaryClient
  /** anvil's test actions: time travel, snapshots, balances. */
  testClient: TestClient
  /** Moves chain time forward and mines a block. */
  increaseTime(seconds: number): Promise<void>
  stop(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

export type DevnetAccount = { account: LocalAccount; address: Address; privateKey: Hex }

/** anvil could not be found, started or reached. */
export class DevnetError extends BaseError {
  override name = 'DevnetError' as const
}

const running = new Set<ChildProcess>()
let exitHookInstalled = false

/**
 * Launches anvil (npm `@foundry-rs/anvil`) on a free loopback port, deploys the registry, the ledger and
 * a 6-decimal test stablecoin on the allowlist, funds accounts, and returns typed clients.
 *
 * @example
 * ```ts
 * await using devnet = await startDevnet()
 * const client = devnet.client(1)
 * ```
 */
export async function startDevnet(parameters: StartDevnetParameters = {}): Promise<Devnet> {
  const count = parameters.accounts ?? 10
  const perAccount = parameters.stablecoinPerAccount ?? 1_000_000_000_000n
  const binary = anvilBinary()
  let child: ChildProcess | undefined
  let rpcUrl = ''
  let lastError: unknown
  for (let attempt = 0; attempt < 3 && !child; attempt++) {
    const port = await freePort()
    rpcUrl = `http://127.0.0.1:${port}`
    const proc = spawn(
      binary,
      [
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--hardfork',
        'prague',
        '--chain-id',
        '31337',
        '--silent',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    track(proc)
    try {
      await waitUntilReady(rpcUrl, proc, parameters.startTimeoutMs ?? 20_000)
      child = proc
    } catch (err) {
      lastError = err
      await kill(proc)
    }
  }
  if (!child?.pid) throw new DevnetError('anvil did not start', { cause: lastError })
  const pid = child.pid

  const chain = defineChain({
    id: 31337,
    name: 'tributary devnet',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  })
  const transport = http(rpcUrl, { batch: false, retryCount: 0 })
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 20 })
  const testClient = createTestClient({ chain, transport, mode: 'anvil' })

  const accounts: DevnetAccount[] = Array.from({ length: count }, (_, i) => {
    const privateKey = keccak256(toHex(`tributary devnet account ${i}`))
    const account = privateKeyToAccount(privateKey)
    return { account, address: account.address, privateKey }
  })
  const clients = new Map<number, TributaryClient>()
  let addresses: Devnet['addresses'] | undefined
  const client = (i = 0): TributaryClient => {
    const a = accounts[i]
    if (!a) throw new DevnetError(`devnet has ${count} accounts; account ${i} does not exist`)
    let c = clients.get(i)
    if (!c) {
      c = createTributaryClient({
        chain,
        publicClient,
        walletClient: createWalletClient({ chain, transport, account: a.account }),
        account: a.account,
        addresses: addresses ?? { registry: '0x', ledger: '0x', stablecoin: '0x' },
        privateKey: a.privateKey,
      })
      clients.set(i, c)
    }
    return c
  }

  const stop = async () => {
    await kill(child)
  }
  try {
    for (const a of accounts) await testClient.setBalance({ address: a.address, value: 10n ** 22n })
    const deployed = await deployMarket(client(0), { reclaimDelay: parameters.reclaimDelay ?? 3600n })
    if (!deployed.stablecoin) throw new DevnetError('the test stablecoin was not deployed')
    addresses = { registry: deployed.registry, ledger: deployed.ledger, stablecoin: deployed.stablecoin }
    for (const c of clients.values()) c.addresses = addresses
    for (const a of accounts) {
      await sendContract(client(0), {
        address: addresses.stablecoin,
        abi: testStablecoinAbi,
        functionName: 'mint',
        args: [a.address, perAccount],
      })
    }
  } catch (err) {
    await stop()
    throw err instanceof BaseError
      ? err
      : new DevnetError('deploying the marketplace on anvil failed', { cause: err })
  }
  const deployedAddresses = addresses as Devnet['addresses']

  return {
    rpcUrl,
    chainId: chain.id,
    pid,
    addresses: deployedAddresses,
    accounts,
    client,
    testClient,
    async increaseTime(seconds: number) {
      await testClient.increaseTime({ seconds })
      await testClient.mine({ blocks: 1 })
    },
    stop,
    [Symbol.asyncDispose]: stop,
  }
}

function anvilBinary(): string {
  const fromEnv = process.env.TRIBUTARY_ANVIL
  if (fromEnv) return fromEnv
  const arch = process.arch === 'x64' ? 'amd64' : process.arch
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch}`
  try {
    const require = createRequire(import.meta.url)
    const bin = path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'bin', 'anvil')
    if (existsSync(bin)) return bin
  } catch {}
  throw new DevnetError(`anvil was not found (looked for the npm package ${pkg})`, {
    metaMessages: [
      '- Run `npm install` (the dev dependency @foundry-rs/anvil ships it), or set TRIBUTARY_ANVIL.',
    ],
  })
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      )
    })
  })
}

async function waitUntilReady(rpcUrl: string, proc: ChildProcess, timeoutMs: number): Promise<void> {
  let stderr = ''
  proc.stderr?.on('data', (d) => {
    stderr += d
  })
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (proc.exitCode !== null)
      throw new DevnetError(`anvil exited with code ${proc.exitCode}: ${stderr.trim()}`)
    try {
      const res = await fetch(rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      })
      if (res.ok) return
    } catch {}
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new DevnetError(`anvil did not answer at ${rpcUrl} within ${timeoutMs} ms`)
}

function track(proc: ChildProcess) {
  running.add(proc)
  proc.on('exit', () => running.delete(proc))
  if (!exitHookInstalled) {
    exitHookInstalled = true
    // a test or demo that dies must not leave anvil behind
    process.on('exit', () => {
      for (const p of running) p.kill('SIGKILL')
    })
  }
}

async function kill(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  proc.kill('SIGTERM')
  const timer = setTimeout(() => proc.kill('SIGKILL'), 2000)
  await exited
  clearTimeout(timer)
}

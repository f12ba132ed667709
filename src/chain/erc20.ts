import { type Address, erc20Abi } from 'viem'
import { readContract, sendContract, type TributaryClient } from './client.js'

/** The token balance of `owner`. */
export function tokenBalance(client: TributaryClient, token: Address, owner: Address): Promise<bigint> {
  return readContract<bigint>(client, {
    address: token,
    abi: erc20Abi,
    functionName: 'balanceOf',
    args: [owner],
  })
}

/** Approves `spender` for `amount` when the current allowance is lower. Returns whether it sent a transaction. */
export async function ensureAllowance(
  client: TributaryClient,
  token: Address,
  spender: Address,
  amount: bigint,
): Promise<boolean> {
  if (amount === 0n) return false
  const allowance = await readContract<bigint>(client, {
    address: token,
    abi: erc20Abi,
    functionName: 'allowance',
    args: [client.account.address, spender],
  })
  if (allowance >= amount) return false
  await sendContract(client, {
    address: token,
    abi: erc20Abi,
    functionName: 'approve',
    args: [spender, amount],
  })
  return true
}

import {
  type Abi,
  ContractFunctionRevertedError,
  decodeErrorResult,
  type Hex,
  BaseError as ViemBaseError,
} from 'viem'
import { BaseError } from '../errors/base.js'
import { ledgerAbi } from './generated/Ledger.js'
import { modelRegistryAbi } from './generated/ModelRegistry.js'
import { testStablecoinAbi } from './generated/TestStablecoin.js'

// every custom error the marketplace's contracts (and the OpenZeppelin code inside them) can raise
const knownErrors = [...ledgerAbi, ...modelRegistryAbi, ...testStablecoinAbi].filter(
  (x) => x.type === 'error',
) as Abi

/** A contract call reverted with one of tributary's custom errors. `errorName` and `args` are decoded. */
export class ContractRevertError extends BaseError {
  override name = 'ContractRevertError' as const
  readonly errorName: string
  readonly args: readonly unknown[]
  readonly functionName: string

  constructor(params: {
    errorName: string
    args: readonly unknown[]
    functionName: string
    cause?: unknown
  }) {
    const { short, meta } = explain(params.errorName, params.args)
    super(`${params.functionName} reverted: ${short}`, { metaMessages: meta, cause: params.cause })
    this.errorName = params.errorName
    this.args = params.args
    this.functionName = params.functionName
  }
}
export type ContractRevertErrorType = ContractRevertError & { name: 'ContractRevertError' }

/** The RPC node could not be reached or answered with something that is not a contract revert. */
export class ChainRequestError extends BaseError {
  override name = 'ChainRequestError' as const
  constructor(functionName: string, cause: unknown) {
    super(`${functionName} failed before reaching the contract`, {
      metaMessages: ['- Check that the RPC URL answers (TRIBUTARY_RPC_URL) and the account has gas.'],
      cause,
    })
  }
}
export type ChainRequestErrorType = ChainRequestError & { name: 'ChainRequestError' }

const str = (v: unknown) => (typeof v === 'bigint' ? v.toString() : String(v))

/** What each custom error means and what to do about it. */
function explain(errorName: string, args: readonly unknown[]): { short: string; meta: string[] } {
  const a = args.map(str)
  switch (errorName) {
    case 'LaneExpired':
      return {
        short: `LaneExpired: lane ${a[0]} expired at ${isoTime(args[1])} and its grace period is over`,
        meta: ['- Open a new license with openLicense(); an expired lane can only be reclaimed.'],
      }
    case 'LaneNotReclaimable':
      return {
        short: `LaneNotReclaimable: lane ${a[0]} can be reclaimed from ${isoTime(args[1])}`,
        meta: [
          '- Wait until expiry plus the reclaim delay; the provider may still redeem signed vouchers until then.',
        ],
      }
    case 'LaneClosed':
      return {
        short: `LaneClosed: lane ${a[0]} was reclaimed`,
        meta: ['- Open a new license with openLicense().'],
      }
    case 'UnknownLane':
      return {
        short: `UnknownLane: no lane ${a[0]} for this payer, token, model, terms version and lineage`,
        meta: [
          '- Use the lane key returned by openLicense() (payer, token, modelId, termsVersion, seq, lineage).',
        ],
      }
    case 'LaneOverdrawn':
      return {
        short: `LaneOverdrawn: cumulative ${a[1]} exceeds the cap ${a[2]} of lane ${a[0]}`,
        meta: ['- Top the lane up with topUpLicense() before signing more.'],
      }
    case 'VoucherNotNewer':
      return {
        short: `VoucherNotNewer: lane ${a[0]} has already claimed ${a[2]}; voucher for ${a[1]} is stale or replayed`,
        meta: ['- Only a voucher with a higher cumulative amount can be redeemed.'],
      }
    case 'InvalidVoucherSignature':
      return {
        short: `InvalidVoucherSignature: the voucher for lane ${a[0]} is not signed by the lane's payer for this chain and ledger`,
        meta: [
          '- Sign vouchers with signVoucher() using the payer account, this chainId and this ledger address.',
          '- A voucher signed in a batch (signVouchers()) is valid only with its proof, through redeemWithProofs; settle takes vouchers signed alone.',
        ],
      }
    case 'MalformedProofs':
      return {
        short: `MalformedProofs: the proof record at byte ${a[0]} is cut short, or bytes follow the last lane's record`,
        meta: [
          '- Pass one record per lane, in lane order: a one-byte count, then that many 32-byte nodes (0 for a voucher signed alone).',
        ],
      }
    case 'MissingSignatures':
      return {
        short: `MissingSignatures: ${a[0]} lanes need ${a[0]} payer signatures, got ${a[1]}`,
        meta: ['- Only the payer may settle without vouchers; anyone else must pass one signature per lane.'],
      }
    case 'InsufficientEscrow':
      return {
        short: `InsufficientEscrow: escrow holds ${a[1]} of token ${a[0]}, ${a[2]} needed`,
        meta: ['- Deposit first, or pass a deposit amount to openLicense()/topUpLicense().'],
      }
    case 'PriceAboveMax':
      return {
        short: `PriceAboveMax: model ${a[0]} costs ${a[1]} per call, above your maximum ${a[2]}`,
        meta: ['- The price changed: re-read the terms with getModel() and decide whether to accept them.'],
      }
    case 'RootAlreadySettled':
      return {
        short: `RootAlreadySettled: receipt root ${a[0]} was already settled`,
        meta: ['- A run is settled once.'],
      }
    case 'TotalMismatch':
      return {
        short: `TotalMismatch: declared total ${a[0]} but the lanes move ${a[1]}`,
        meta: ['- A provider may have redeemed some vouchers meanwhile: re-read the lanes and settle again.'],
      }
    case 'TokenNotAllowed':
      return { short: `TokenNotAllowed: token ${a[0]} is not on the ledger's allowlist`, meta: [] }
    case 'FeeOnTransferToken':
      return {
        short: `FeeOnTransferToken: token ${a[0]} delivered ${a[2]} of ${a[1]}`,
        meta: ['- Tokens that take a fee on transfer are not accepted.'],
      }
    case 'UnknownAsset':
    case 'UnknownModel':
      return { short: `${errorName}: asset ${a[0]} is not registered`, meta: [] }
    case 'NotAssetOperator':
      return {
        short: `NotAssetOperator: ${a[1]} is not the owner or an approved operator of asset ${a[0]}`,
        meta: [
          '- Call from the owner account, or have the owner approve this account (ERC-721 approve/setApprovalForAll).',
        ],
      }
    case 'InvalidPayees':
      return {
        short: `InvalidPayees: ${a[0]}`,
        meta: ['- At most 8 payees, non-zero, distinct, shares summing to 10 000.'],
      }
    case 'TooManyAncestors':
      return { short: `TooManyAncestors: ${a[0]} ancestors, at most ${a[1]}`, meta: [] }
    case 'LineageTooExpensive':
      return { short: `LineageTooExpensive: ancestors ask ${a[0]} bps in total, at most ${a[1]}`, meta: [] }
    case 'NothingToDistribute':
      return { short: `NothingToDistribute: asset ${a[0]} has no credit in token ${a[1]}`, meta: [] }
    case 'ERC20InsufficientAllowance':
      return {
        short: `ERC20InsufficientAllowance: ${a[0]} may spend ${a[1]} of your tokens, ${a[2]} needed`,
        meta: ['- Approve the ledger for the deposit (openLicense() does it when its deposit is "auto").'],
      }
    case 'ERC20InsufficientBalance':
      return {
        short: `ERC20InsufficientBalance: ${a[0]} holds ${a[1]} tokens, ${a[2]} needed`,
        meta: ['- Fund the wallet with the payment token first.'],
      }
    case 'NothingToWithdraw':
      return { short: `NothingToWithdraw: no balance in token ${a[0]}`, meta: [] }
    default:
      return { short: `${errorName}(${a.join(', ')})`, meta: [] }
  }
}

function isoTime(v: unknown): string {
  const n = typeof v === 'bigint' ? Number(v) : Number(v)
  return Number.isFinite(n) ? new Date(n * 1000).toISOString() : String(v)
}

/** Turns a viem error from a contract call into a tributary error (typed revert or request failure). */
export function toChainError(functionName: string, err: unknown): BaseError {
  if (err instanceof BaseError) return err
  if (err instanceof ViemBaseError) {
    const revert = err.walk((e) => e instanceof ContractFunctionRevertedError)
    if (revert instanceof ContractFunctionRevertedError && revert.data?.errorName) {
      return new ContractRevertError({
        errorName: revert.data.errorName,
        args: revert.data.args ?? [],
        functionName,
        cause: err,
      })
    }
    // a revert raised by another contract (the token, the registry) is not in the called ABI
    const raw = findRevertData(err)
    if (raw) {
      try {
        const decoded = decodeErrorResult({ abi: knownErrors, data: raw })
        return new ContractRevertError({
          errorName: decoded.errorName,
          args: (decoded.args ?? []) as readonly unknown[],
          functionName,
          cause: err,
        })
      } catch {}
    }
  }
  return new ChainRequestError(functionName, err)
}

function findRevertData(err: ViemBaseError): Hex | undefined {
  let found: Hex | undefined
  err.walk((e) => {
    const data = (e as { raw?: unknown; data?: unknown }).raw ?? (e as { data?: unknown }).data
    if (typeof data === 'string' && /^0x[0-9a-fA-F]{8,}$/.test(data)) found = data as Hex
    return found !== undefined
  })
  return found
}

/** True when `err` is a contract revert with this custom error name. */
export function isRevert(err: unknown, errorName: string): err is ContractRevertError {
  return err instanceof ContractRevertError && err.errorName === errorName
}

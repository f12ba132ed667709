// biome-ignore-all lint/performance/noBarrelFile: entrypoint module of tributary
// The core import: chain, market, payments, model definitions and the paying client, and the workflow
// engine's main entry points. The HTTP provider (express) is in `tributary/server`; the whole engine
// surface in `tributary/workflow`.

export {
  type ContractCall,
  createTributaryClient,
  type MarketAddresses,
  readContract,
  sendContract,
  TransactionRevertedError,
  type TributaryClient,
} from './chain/client.js'
export {
  type ConnectParameters,
  connect,
  InvalidConnectionError,
} from './chain/connect.js'
export {
  type DeployMarketParameters,
  type DeployMarketReturnType,
  DeploymentError,
  deployMarket,
} from './chain/deployMarket.js'
export {
  ChainRequestError,
  ContractRevertError,
  isRevert,
} from './chain/errors.js'
export { ledgerAbi } from './chain/generated/Ledger.js'
export { modelRegistryAbi } from './chain/generated/ModelRegistry.js'
export { testStablecoinAbi } from './chain/generated/TestStablecoin.js'
export {
  type Devnet,
  type DevnetAccount,
  DevnetError,
  type StartDevnetParameters,
  startDevnet,
} from './chain/startDevnet.js'
export { BaseError, type BaseErrorParameters } from './errors/base.js'
export { type ApproveOperatorParameters, approveOperator } from './market/approveOperator.js'
export { type Card, canonicalJson, cardSchema, hashCard, parseCard } from './market/card.js'
export {
  CardHostNotAllowedError,
  type CreateDiscoveryIndexParameters,
  createDiscoveryIndex,
  type DiscoveryIndex,
  type Listing,
  type ListingQuality,
  type SearchQuery,
} from './market/createDiscoveryIndex.js'
export { type GetModelParameters, type GetModelReturnType, getModel } from './market/getModel.js'
export {
  type PublishModelParameters,
  type PublishModelReturnType,
  publishModel,
} from './market/publishModel.js'
export { type AssetTerms, InvalidAssetParametersError } from './market/terms.js'
export { type UpdateModelParameters, updateModel } from './market/updateModel.js'
export {
  InvalidProviderOutputError,
  ModelResolutionError,
  PaymentMismatchError,
  ProviderCallError,
  ProviderUnreachableError,
  ReceiptVerificationError,
  SpendPolicyError,
} from './models/callErrors.js'
export { type CallModelParameters, type CallModelReturnType, callModel } from './models/callModel.js'
export { type CreateMarketCallerParameters, createMarketCaller } from './models/createMarketCaller.js'
export {
  type CreateWalletParameters,
  createWallet,
  type SpendPolicy,
  type Wallet,
} from './models/createWallet.js'
export {
  type DefineModelParameters,
  defineModel,
  type ModelDefinition,
  type ModelInput,
  type ModelOutput,
} from './models/defineModel.js'
export {
  InvalidModelInputError,
  InvalidModelOutputError,
  InvalidTermsError,
  ModelTimeoutError,
} from './models/errors.js'
export { createFileLaneStore, createMemoryLaneStore, type LaneStore } from './models/laneStore.js'
export { PublishError, type PublishParameters, type PublishReturnType, publish } from './models/publish.js'
export {
  type CreateVoucherSignerParameters,
  createVoucherSigner,
  type SignedVoucher,
  type VoucherSigner,
} from './pay/createVoucherSigner.js'
export { distribute } from './pay/distribute.js'
export { type GetEarningsReturnType, getEarnings } from './pay/getEarnings.js'
export { type GetLaneReturnType, getLane } from './pay/getLane.js'
export {
  type Ancestor,
  type Credit,
  computeLaneId,
  decodeAttribution,
  decodeLineage,
  encodeLaneClaims,
  encodeLineage,
  expandAttribution,
  type Lane,
  type LaneClaim,
  splitCredit,
} from './pay/lane.js'
export {
  InvalidLicenseError,
  type OpenLicenseParameters,
  type OpenLicenseReturnType,
  openLicense,
} from './pay/openLicense.js'
export { reclaim } from './pay/reclaim.js'
export { type HeldVoucher, redeemVouchers } from './pay/redeemVouchers.js'
export {
  InvalidSettlementError,
  type RunLaneClaim,
  type SettleRunParameters,
  type SettleRunReturnType,
  settleRun,
} from './pay/settleRun.js'
export { type SignVoucherParameters, signVoucher } from './pay/signVoucher.js'
export {
  type SignVouchersParameters,
  type SignVouchersReturnType,
  signVouchers,
  type VoucherClaim,
} from './pay/signVouchers.js'
export { topUpLicense } from './pay/topUpLicense.js'
export {
  type VerifyVoucherParameters,
  type VerifyVoucherReturnType,
  verifyVoucher,
} from './pay/verifyVoucher.js'
export { voucherBatchTypes, voucherDomain, voucherTypes } from './pay/voucher.js'
export { withdraw } from './pay/withdraw.js'
export { type ChainSettler, createChainSettler } from './workflow/createChainSettler.js'
export {
  createStaticDirectory,
  fn,
  formatPlan,
  model,
  NonRetryableError,
  plan,
  RetryAfterError,
  type RunEvent,
  type RunResult,
  resume,
  run,
  workflow,
} from './workflow/index.js'

// biome-ignore-all lint/performance/noBarrelFile: entrypoint module of tributary/server
// The HTTP provider: serve models with x402-shaped payment (pulls in express).

export {
  IDEMPOTENCY_KEY_HEADER,
  LANE_SCHEME,
  PAYMENT_REQUIRED_HEADER,
  PAYMENT_RESPONSE_HEADER,
  PAYMENT_SIGNATURE_HEADER,
} from '../models/laneScheme.js'
export {
  ServeModelsError,
  type ServeModelsParameters,
  type ServeModelsReturnType,
  serveModels,
} from '../models/serveModels.js'
export {
  CARDS_PATH,
  type ModelHealth,
  ProviderConfigError,
  type ProviderStats,
  type TributaryRouter,
  type TributaryRouterOptions,
  tributaryRouter,
} from '../models/tributaryRouter.js'

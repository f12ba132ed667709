import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express, { type Express, type NextFunction, type Request, type Response } from 'express'
import { BaseError } from '../errors/base.js'
import { whenKeccakReady } from '../pay/keccak.js'
import type { ModelDefinition } from './defineModel.js'
import {
  CARDS_PATH,
  fail,
  type ProviderStats,
  type TributaryRouter,
  type TributaryRouterOptions,
  tributaryRouter,
} from './tributaryRouter.js'

export type ServeModelsParameters = TributaryRouterOptions & {
  /** Port to listen on (default 0: a free one). */
  port?: number | undefined
  /** Interface to bind (default 127.0.0.1: loopback only). */
  host?: string | undefined
}
export type ServeModelsReturnType = {
  /** Base URL of the server, e.g. `http://127.0.0.1:41234`. */
  url: string
  app: Express
  server: Server
  router: TributaryRouter
  /** The card URL of a served model (what `publishModel` registers as the card URI). */
  cardUrl(modelId: string): string
  /** The invoke URL of a served model (the card's `endpoint`). */
  endpoint(modelId: string): string
  readonly stats: ProviderStats
  /** Stops accepting calls, lets running ones finish, redeems what is owed, closes the server. */
  stop(options?: { redeem?: boolean | undefined }): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/** The server could not start. */
export class ServeModelsError extends BaseError {
  override name = 'ServeModelsError' as const
}

/**
 * Serves models over HTTP on loopback (by default) with x402-shaped payment: an Express app around
 * {@link tributaryRouter}, JSON errors for every failure (unknown paths included), keep-alive, and a
 * `stop()` that redeems what the provider is owed before closing.
 *
 * @example
 * ```ts
 * const provider = await serveModels([shout], {
 *   client: devnet.client(1),
 *   assetIds: { 'acme/shout': 7n },
 *   redeem: { exposureThreshold: 100_000n, beforeExpirySeconds: 600 },
 * })
 * console.log(provider.endpoint('acme/shout')) // http://127.0.0.1:41234/models/acme/shout/invoke
 * await provider.stop()
 * ```
 */
export async function serveModels(
  models: readonly ModelDefinition[],
  parameters: ServeModelsParameters = {},
): Promise<ServeModelsReturnType> {
  const { port = 0, host = '127.0.0.1', ...options } = parameters
  await whenKeccakReady()
  const router = tributaryRouter(models, options)
  const app = express()
  app.disable('x-powered-by')
  app.disable('etag')
  app.use(router)
  app.use((req: Request, res: Response) => {
    fail(res, 404, 'not_found', `nothing at ${req.method} ${req.path}; GET ${CARDS_PATH} lists the models`)
  })
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number }).status
    if (status === 413) return fail(res, 413, 'body_too_large', 'the body is too large')
    if (status && status >= 400 && status < 500)
      return fail(res, status, 'bad_request', 'the request is malformed')
    options.onError?.(err)
    fail(res, 500, 'internal_error', 'the provider failed to handle the request')
  })

  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(s)))
    s.once('error', reject)
  }).catch((err: unknown) => {
    throw new ServeModelsError(`cannot listen on ${host}:${port}`, { cause: err })
  })
  server.keepAliveTimeout = 65_000
  server.headersTimeout = 66_000
  const { port: bound } = server.address() as AddressInfo
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`
  router.provider.setBaseUrl(url)
  try {
    await router.provider.ready
  } catch (err) {
    await new Promise((r) => server.close(r))
    throw new ServeModelsError('the provider cannot reach its chain', {
      cause: err,
      metaMessages: ["- Check the client's RPC URL, or serve with payment: 'off'."],
    })
  }

  let stopping: Promise<void> | undefined
  const stop = (o: { redeem?: boolean | undefined } = {}) => {
    stopping ??= (async () => {
      // stop taking calls and let running ones finish, then redeem: a call charged late is redeemed too
      const closed = new Promise<void>((r) => server.close(() => r()))
      server.closeIdleConnections()
      const force = setTimeout(() => server.closeAllConnections(), 5_000)
      await closed
      clearTimeout(force)
      await router.provider.close({ redeem: o.redeem !== false })
    })()
    return stopping
  }
  return {
    url,
    app,
    server,
    router,
    cardUrl: (id) => `${url}${CARDS_PATH}/${id}.json`,
    endpoint: (id) => `${url}/models/${id}/invoke`,
    get stats() {
      return router.provider.stats
    },
    stop,
    [Symbol.asyncDispose]: () => stop(),
  }
}

import http from 'node:http'
import https from 'node:https'

/** Keep-alive agents shared by every call of the process: a paid call costs one round trip, no handshake. */
const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 30_000 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 30_000 }),
}

type ParsedUrl = { protocol: string; hostname: string; port: string; path: string }
/** Endpoints parsed once: a client calls the same few URLs over and over. */
const parsedUrls = new Map<string, ParsedUrl>()

export type HttpResponse = { status: number; headers: http.IncomingHttpHeaders; body: Buffer }

/** A request failed before an answer arrived (refused, reset, aborted, too large). */
export class HttpTransportError extends Error {
  override name = 'HttpTransportError' as const
  readonly code: string | undefined
  constructor(message: string, code?: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.code = code
  }
}

/**
 * @internal One HTTP request over the keep-alive agents, with a body size limit on the answer and an
 * AbortSignal. node:http rather than fetch: on this path it costs a fraction of undici's per-request work.
 */
export function httpRequest(
  url: string,
  o: {
    method: 'GET' | 'POST'
    headers?: Record<string, string> | undefined
    body?: Buffer | string | undefined
    signal?: AbortSignal | undefined
    maxBytes?: number | undefined
    timeoutMs?: number | undefined
  },
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    let u: ParsedUrl | undefined = parsedUrls.get(url)
    if (!u) {
      try {
        const parsed = new URL(url)
        u = {
          protocol: parsed.protocol,
          hostname: parsed.hostname.replace(/^\[|\]$/g, ''),
          port: parsed.port,
          path: `${parsed.pathname}${parsed.search}`,
        }
      } catch (err) {
        reject(new HttpTransportError(`not a URL: ${url}`, 'EINVALIDURL', err))
        return
      }
      if (parsedUrls.size >= 1_000) parsedUrls.clear()
      parsedUrls.set(url, u)
    }
    const secure = u.protocol === 'https:'
    if (!secure && u.protocol !== 'http:') {
      reject(new HttpTransportError(`only http(s) URLs are supported: ${url}`, 'EPROTOCOL'))
      return
    }
    const body = o.body === undefined ? undefined : typeof o.body === 'string' ? Buffer.from(o.body) : o.body
    const headers: Record<string, string> = { ...(o.headers ?? {}) }
    if (body) headers['content-length'] = String(body.length)
    const limit = o.maxBytes ?? 16 * 1024 * 1024
    const req = (secure ? https : http).request(
      {
        protocol: u.protocol,
        hostname: u.hostname,
        port: u.port,
        path: u.path,
        method: o.method,
        headers,
        agent: secure ? agents.https : agents.http,
        ...(o.signal ? { signal: o.signal } : {}),
      },
      (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (c: Buffer) => {
          size += c.length
          if (size > limit) {
            res.destroy()
            reject(
              new HttpTransportError(`the answer from ${url} is larger than ${limit} bytes`, 'ETOOLARGE'),
            )
            return
          }
          chunks.push(c)
        })
        res.once('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks),
          }),
        )
        res.once('error', (e) =>
          reject(new HttpTransportError(e.message, (e as NodeJS.ErrnoException).code, e)),
        )
        res.once('aborted', () =>
          reject(new HttpTransportError(`${url} closed the connection mid-answer`, 'ECONNRESET')),
        )
      },
    )
    if (o.timeoutMs) {
      req.setTimeout(o.timeoutMs, () =>
        req.destroy(new HttpTransportError(`no answer from ${url} within ${o.timeoutMs} ms`, 'ETIMEDOUT')),
      )
    }
    req.once('error', (e) =>
      reject(
        e instanceof HttpTransportError
          ? e
          : new HttpTransportError(e.message, (e as NodeJS.ErrnoException).code, e),
      ),
    )
    req.end(body)
  })
}

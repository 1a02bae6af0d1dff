/**
 * Calling an API with the session's access token: the reason access tokens exist. The token is
 * taken (and refreshed first when it expires within the margin) by `getAccessToken`; a 401 that
 * says the token is invalid (RFC 6750 §3.1 `invalid_token`) gets one more try with a token
 * refreshed now, when the request can be sent twice.
 */
import { type Auth, appOf } from '../auth.js'
import { AuthError, ResourceError, TokenExchangeError } from '../errors.js'
import type { HttpContext } from '../http/context.js'
import { wantsNonce } from '../protocol/dpop.js'
import { requireSession } from '../session/guard.js'
import { type AccessTokenOptions, getAccessToken } from './access-token.js'

/** Options of a `fetch` with the session's token. */
export interface TokenFetchOptions extends AccessTokenOptions {
  /** milliseconds the resource server may take to answer; default 10000 */
  timeout?: number
}

/** The `Authorization` value for a token of this type (RFC 6750 `Bearer`, RFC 9449 `DPoP`). */
function authorization(type: string, token: string): string {
  const scheme = { bearer: 'Bearer', dpop: 'DPoP' }[type.toLowerCase()] ?? type
  return `${scheme} ${token}`
}

/** Whether a 401 says that the token itself was refused (RFC 6750 §3.1). */
function tokenRefused(response: Response): boolean {
  if (response.status !== 401) return false
  const challenge = response.headers.get('www-authenticate') ?? ''
  return /\berror\s*=\s*"?invalid_token"?/i.test(challenge)
}

/** Whether `body` can be sent a second time (a stream is used up by the first attempt). */
function replayable(body: BodyInit | null | undefined): boolean {
  return body === undefined || body === null || !(body instanceof ReadableStream)
}

/**
 * `fetch(input, init)` with the session's access token in `Authorization` (any `Authorization`
 * in `init` is replaced). Anonymous: `UnauthenticatedError` (401); a refresh the provider refuses
 * ends the session, the same way. The resource server's own answers (4xx, 5xx) are returned as
 * they are; one that cannot be reached is a `ResourceError` (502, or 504 after `timeout`).
 */
export async function fetchWithToken(
  auth: Auth,
  ctx: HttpContext,
  input: string | URL | Request,
  init: RequestInit = {},
  options: TokenFetchOptions = {},
): Promise<Response> {
  const { timeout = 10_000, ...tokenOptions } = options
  if (!Number.isInteger(timeout) || timeout < 1) {
    throw new TypeError('fetch: "timeout" must be a positive number of milliseconds')
  }
  const url = new URL(input instanceof Request ? input.url : input)
  const method = init.method ?? (input instanceof Request ? input.method : 'GET')
  const send = async (forceRefresh: boolean, nonceRetry = false): Promise<Response> => {
    const token = await getAccessToken(auth, ctx, { ...tokenOptions, forceRefresh })
    const headers = new Headers(
      init.headers ?? (input instanceof Request ? input.headers : undefined),
    )
    headers.set('authorization', authorization(token.type, token.token))
    const dpop = token.type.toLowerCase() === 'dpop' ? await dpopOf(auth, ctx) : undefined
    if (dpop) headers.set('dpop', await dpop.handles.proof(dpop.key, method, url, token.token))
    const signal = init.signal
      ? AbortSignal.any([init.signal, AbortSignal.timeout(timeout)])
      : AbortSignal.timeout(timeout)
    let response: Response
    try {
      response = await fetch(input, { ...init, headers, signal })
    } catch (error) {
      if (error instanceof AuthError) throw error
      // the app's own abort is the app's
      if (init.signal?.aborted) throw error
      const timedOut = (error as { name?: string }).name === 'TimeoutError'
      const target = url.origin
      throw new ResourceError(
        timedOut ? 'the API did not answer in time' : 'the API could not be reached',
        timedOut ? 504 : 502,
        {
          cause: error,
          hint: timedOut
            ? `${target} did not answer within ${timeout} ms (the "timeout" of fetch)`
            : `${target} could not be reached: ${(error as Error).message}`,
        },
      )
    }
    // RFC 9449 §9: the API asks for a nonce; the proof is made again with it, once
    if (
      dpop?.handles.rememberNonce(url, response) &&
      wantsNonce(response) &&
      !nonceRetry &&
      replayable(init.body)
    ) {
      await response.body?.cancel()
      return send(false, true)
    }
    return response
  }
  const first = await send(false)
  if (!tokenRefused(first) || !replayable(init.body)) return first
  // the token may have been revoked or rotated at the provider: one more try with a new one
  await first.body?.cancel()
  return send(true)
}

/** The session's DPoP key and the provider's handles, for a DPoP-bound token. */
async function dpopOf(auth: Auth, ctx: HttpContext) {
  const [session, provider] = await Promise.all([
    requireSession(auth, ctx),
    appOf(auth).provider.get(),
  ])
  if (!provider.dpop || !session.dpopKey) {
    throw new TokenExchangeError('the session holds a DPoP token but no DPoP key', 401)
  }
  return { handles: provider.dpop, key: session.dpopKey }
}

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

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * `fetch(input, init)` with the session's access token in `Authorization` (any `Authorization`
 * in `init` is replaced): `Bearer`, or `DPoP` with a proof for this request. Anonymous:
 * `UnauthenticatedError` (401); a refresh the provider refuses ends the session, the same way.
 * The resource server's own answers (4xx, 5xx) are returned as they are; one that cannot be
 * reached is a `ResourceError` (502, or 504 after `timeout`). The token goes over https only
 * (http to a loopback address too, for development); with DPoP, redirects are not followed
 * (a proof is for one URL), nor with a client certificate (`clientCertificate`, presented on
 * https).
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
  // one Request, cloned for each attempt: its body (a stream too) can then be sent again
  const base = new Request(input, init)
  const url = new URL(base.url)
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new TypeError(
      `fetch: the session's token goes over https only, not to ${url.protocol}//${url.host} (RFC 6750 §5.3)`,
    )
  }
  // with a client certificate, it is presented (a certificate-bound token is refused without it,
  // RFC 8705 §3), and redirects are not followed
  const { providers } = appOf(auth)
  const transport =
    providers.ofSession(await requireSession(auth, ctx)).clientCertificate?.fetch ?? fetch
  const send = async (forceRefresh: boolean, nonceRetry = false): Promise<Response> => {
    const token = await getAccessToken(auth, ctx, { ...tokenOptions, forceRefresh })
    const headers = new Headers(base.headers)
    headers.set('authorization', authorization(token.type, token.token))
    const dpop = token.type.toLowerCase() === 'dpop' ? await dpopOf(auth, ctx) : undefined
    const proof = dpop && (await dpop.handles.proof(dpop.key, base.method, url, token.token))
    if (proof) headers.set('dpop', proof.proof)
    const signal = AbortSignal.any([base.signal, AbortSignal.timeout(timeout)])
    let response: Response
    try {
      response = await transport(
        new Request(base.clone(), {
          headers,
          signal,
          ...(dpop ? { redirect: 'manual' as const } : {}),
        }),
      )
    } catch (error) {
      if (error instanceof AuthError) throw error
      // the app's own abort is the app's
      if (base.signal.aborted) throw error
      const timedOut = (error as { name?: string }).name === 'TimeoutError'
      // the origin and an error code only: a message may hold the URL, and its credentials
      const code = (error as { cause?: { code?: unknown } }).cause?.code
      throw new ResourceError(
        timedOut ? 'the API did not answer in time' : 'the API could not be reached',
        timedOut ? 504 : 502,
        {
          cause: error,
          hint: timedOut
            ? `${url.origin} did not answer within ${timeout} ms (the "timeout" of fetch)`
            : `${url.origin} could not be reached${typeof code === 'string' ? ` (${code})` : ''}`,
        },
      )
    }
    // RFC 9449 §9: the API asks for a nonce other than the one sent; the proof is made again
    // with it, once (parallel calls each see their own challenge)
    if (dpop && proof && wantsNonce(response) && !nonceRetry) {
      const nonce = dpop.handles.rememberNonce(url, response)
      if (nonce !== undefined && nonce !== proof.nonce) {
        await discard(response)
        return send(false, true)
      }
    } else if (dpop) {
      dpop.handles.rememberNonce(url, response)
    }
    return response
  }
  const first = await send(false)
  // an API that says the token is invalid: one more try with a token refreshed now, when there
  // is a refresh token (without one, an API's 401 must not end the user's session)
  if (!tokenRefused(first) || !(await refreshable(auth, ctx))) return first
  await discard(first)
  return send(true)
}

/** Whether the session can get a new access token now. */
async function refreshable(auth: Auth, ctx: HttpContext): Promise<boolean> {
  return (await requireSession(auth, ctx)).refreshToken !== undefined
}

/** The session's DPoP key and the provider's handles, for a DPoP-bound token. */
async function dpopOf(auth: Auth, ctx: HttpContext) {
  const { providers } = appOf(auth)
  const session = await requireSession(auth, ctx)
  const provider = await providers.get(providers.ofSession(session))
  if (!session.dpopKey) {
    throw new TokenExchangeError('the session holds a DPoP token but no DPoP key', 401)
  }
  return { handles: provider.dpop, key: session.dpopKey }
}

/**
 * Reads away a refused answer before the request is sent again (its connection goes back to the
 * pool). Read, not cancelled: under `next start`, cancelling the bodies of parallel refused
 * answers left the retries hanging (test/dpop.test.ts, parallel nonce challenges); the cause
 * inside Next.js's patched fetch is not known.
 */
async function discard(response: Response): Promise<void> {
  await response.arrayBuffer().catch(() => undefined)
}

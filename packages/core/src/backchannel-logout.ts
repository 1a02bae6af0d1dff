/**
 * The back-channel logout endpoint (OpenID Connect Back-Channel Logout 1.0): the provider POSTs a
 * signed `logout_token` when a user signs out there (or an administrator ends their session), and
 * the sessions it names are revoked in the revocation store, which every session read consults:
 * on every instance that shares the store, with cookie sessions as with a server-side store.
 */
import type { Auth } from './auth.js'
import type { HttpContext } from './context.js'
import { AuthError, LogoutTokenError } from './errors.js'
import { report } from './logger.js'
import { MAX_LOGOUT_TOKEN_AGE, verifyLogoutToken } from './logout-token.js'
import { type AuthResponse, json } from './responses.js'
import { epoch } from './session.js'

function failure(error: AuthError): AuthResponse {
  // BCL 1.0 §2.8: 400 with an OAuth-style error; our own faults (discovery, keys, store) are 5xx
  const code = error.status < 500 ? 'invalid_request' : 'temporarily_unavailable'
  const description = error.expose ? error.message : 'the logout could not be processed'
  return json(error.status, { error: code, error_description: description }, error.headers)
}

/**
 * Handles a back-channel logout request: exactly one `logout_token` in a urlencoded body (bounded
 * by `MAX_FORM_BYTES`), validated by `verifyLogoutToken`, not seen before (its `jti` is
 * remembered as long as the token could be accepted), then revoked: by `sid` when the token has
 * one, otherwise every session of `sub` that began by the token's `iat`, for as long as such a
 * session may live. Answers 200 with `Cache-Control: no-store`, 400 with a JSON error, 405 for a
 * method other than POST, 503 when the provider's keys or the revocation store are unavailable.
 */
export async function handleBackchannelLogout(auth: Auth, ctx: HttpContext): Promise<AuthResponse> {
  const { options } = auth
  if (ctx.method !== 'POST') {
    return json(405, { error: 'invalid_request', error_description: 'use POST' }, { Allow: 'POST' })
  }
  try {
    let form: URLSearchParams
    try {
      form = await ctx.readForm()
    } catch (error) {
      if (error instanceof AuthError && error.status < 500) {
        throw new LogoutTokenError(error.message, { cause: error })
      }
      throw error
    }
    const tokens = form.getAll('logout_token')
    if (tokens.length !== 1) {
      throw new LogoutTokenError('exactly one "logout_token" form parameter is required')
    }
    const provider = await auth.provider.get()
    const claims = await verifyLogoutToken(provider, options, tokens[0] as string)
    const now = epoch(options)
    // remembered while the token could still be accepted: until its exp, or its maximum age
    const acceptedUntil = Math.min(claims.exp ?? Infinity, claims.iat + MAX_LOGOUT_TOKEN_AGE)
    const jtiTtl = Math.max(1, acceptedUntil + options.clockTolerance - now)
    if (!(await options.revocationStore.recordJti(claims.iss, claims.jti, jtiTtl))) {
      throw new LogoutTokenError('the logout token was already used ("jti" replayed)')
    }
    // a revoked session could live at most absoluteDuration after its login
    const ttl = options.absoluteDuration + options.clockTolerance
    if (claims.sid !== undefined) {
      await options.revocationStore.revoke({ iss: claims.iss, sid: claims.sid }, ttl)
    } else if (claims.sub !== undefined) {
      await options.revocationStore.revoke(
        { iss: claims.iss, sub: claims.sub, before: claims.iat },
        ttl,
      )
    }
    report(options.logger, {
      level: 'info',
      code: 'backchannel_logout',
      message: `a back-channel logout ended the sessions of ${claims.sid === undefined ? 'a user' : 'a provider session'}`,
    })
    return { status: 200, headers: { 'Cache-Control': 'no-store' } }
  } catch (error) {
    if (!(error instanceof AuthError)) throw error
    report(options.logger, {
      level: error.status < 500 ? 'warn' : 'error',
      code: 'backchannel_logout_rejected',
      message: `a back-channel logout was rejected: ${error.message}`,
      error,
    })
    return failure(error)
  }
}

/**
 * The back-channel logout endpoint (OpenID Connect Back-Channel Logout 1.0): the provider POSTs a
 * signed `logout_token` when a user signs out there (or an administrator ends their session), and
 * the sessions it names are revoked in the revocation store, which every session read consults:
 * on every instance that shares the store, with cookie sessions as with a server-side store.
 */
import { type App, type Auth, appOf } from '../auth.js'
import { epoch } from '../clock.js'
import { AuthError, LogoutTokenError } from '../errors.js'
import type { HttpContext } from '../http/context.js'
import { type AuthResponse, json } from '../http/responses.js'
import { claimedIssuer, MAX_LOGOUT_TOKEN_AGE, verifyLogoutToken } from '../protocol/logout-token.js'
import { type Route, type RouteHandler, serve } from './route.js'

/** The logout token of the request: exactly one `logout_token` in a urlencoded body. */
async function logoutToken(ctx: HttpContext): Promise<string> {
  let form: URLSearchParams
  try {
    form = await ctx.readForm()
  } catch (error) {
    // BCL 1.0 §2.8: a request the RP cannot read is a 400 like any other
    if (error instanceof AuthError && error.status < 500) {
      throw new LogoutTokenError(error.message, { cause: error })
    }
    throw error
  }
  const tokens = form.getAll('logout_token')
  if (tokens.length !== 1) {
    throw new LogoutTokenError('exactly one "logout_token" form parameter is required')
  }
  return tokens[0] as string
}

/**
 * Handles a back-channel logout request: the token (bounded by `MAX_FORM_BYTES`) validated by
 * `verifyLogoutToken`, not seen before (its `jti` is remembered as long as the token could be
 * accepted), then revoked: by `sid` when the token has one, otherwise every session of `sub` that
 * began by the token's `iat`, for as long as such a session may live. Answers 200 with
 * `Cache-Control: no-store`.
 */
const backchannelLogout: RouteHandler = async (app, ctx) => {
  const { settings, revocations } = app
  const token = await logoutToken(ctx)
  // the provider whose issuer (and client, for two clients at one issuer) the token names; it is
  // then verified with that provider's keys, issuer and client id
  const claimed = claimedIssuer(token)
  const ofIssuer = app.providers.byIssuer(claimed.iss)
  if (ofIssuer.length === 0) {
    throw new LogoutTokenError('invalid logout token: unexpected "iss"', {
      hint: `a logout token from ${JSON.stringify(claimed.iss)}, which is not the issuer of a provider of this app`,
    })
  }
  // checked before any discovery or key fetch: a token for another client costs nothing
  const audience = Array.isArray(claimed.aud) ? claimed.aud : [claimed.aud]
  const of = ofIssuer.find((provider) => audience.includes(provider.clientId))
  if (of === undefined) {
    throw new LogoutTokenError('invalid logout token: unexpected "aud"', {
      hint: `a logout token from ${JSON.stringify(claimed.iss)} for ${JSON.stringify(claimed.aud)}, which is not the client id of a provider of this app at that issuer`,
    })
  }
  const provider = await app.providers.get(of)
  const claims = await verifyLogoutToken(provider, of, token)
  const now = epoch(settings)
  // remembered while the token could still be accepted: until its exp, or its maximum age
  const acceptedUntil = Math.min(claims.exp ?? Infinity, claims.iat + MAX_LOGOUT_TOKEN_AGE)
  const jtiTtl = Math.max(1, acceptedUntil + settings.clockTolerance - now)
  if (!(await revocations.recordJti(claims.iss, claims.jti, jtiTtl))) {
    throw new LogoutTokenError('the logout token was already used ("jti" replayed)')
  }
  // a revoked session could live at most absoluteDuration after its login
  const ttl = settings.absoluteDuration + settings.clockTolerance
  if (claims.sid !== undefined) {
    await revocations.revoke({ iss: claims.iss, sid: claims.sid, user: claims.sub }, ttl)
  } else if (claims.sub !== undefined) {
    await revocations.revoke({ iss: claims.iss, sub: claims.sub, before: claims.iat }, ttl)
  }
  app.report({
    level: 'info',
    code: 'backchannel_logout',
    message: `a back-channel logout ended the sessions of ${claims.sid === undefined ? 'a user' : 'a provider session'}`,
  })
  return { status: 200, headers: { 'Cache-Control': 'no-store' } }
}

/**
 * BCL 1.0 §2.8: every refusal is a JSON error, 400 `invalid_request` for the request's faults (a
 * 405 included), 5xx `temporarily_unavailable` for ours (discovery, keys, store); reported.
 */
function refusal(app: App, error: AuthError): AuthResponse {
  app.report({
    level: error.status < 500 ? 'warn' : 'error',
    code: 'backchannel_logout_rejected',
    message: `a back-channel logout was rejected: ${error.hint ?? error.message}`,
    error,
  })
  const code = error.status < 500 ? 'invalid_request' : 'temporarily_unavailable'
  const description = error.expose ? error.message : 'the logout could not be processed'
  return json(error.status, { error: code, error_description: description }, error.headers)
}

/** The back-channel logout route: POST, answered in the spec's error format. */
export const backchannelLogoutRoute: Route = {
  methods: ['POST'],
  handle: backchannelLogout,
  renderError: refusal,
}

/** The back-channel logout route, for an app that mounts it itself. */
export function handleBackchannelLogout(auth: Auth, ctx: HttpContext): Promise<AuthResponse> {
  return serve(appOf(auth), backchannelLogoutRoute, ctx)
}

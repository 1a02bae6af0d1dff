import { type Auth, appOf } from '../auth.js'
import { epoch } from '../clock.js'
import { CallbackError } from '../errors.js'
import type { HttpContext } from '../http/context.js'
import { type AuthResponse, redirect } from '../http/responses.js'
import { userClaims } from '../protocol/claims.js'
import { exchangeCode, fetchUserinfo } from '../protocol/provider.js'
import { takeTransaction } from '../protocol/transaction.js'
import { randomId } from '../random.js'
import { replaceSession } from '../session/end.js'
import type { SessionData, UserClaims } from '../session/types.js'
import { type Route, type RouteHandler, serve } from './route.js'

/** The longest callback query accepted (a code, a state, an iss and an error description). */
const MAX_QUERY = 8192

/**
 * The authorization response parameters that must appear at most once (RFC 6749 §3.1; RFC 9207):
 * a duplicate is the browser's fault, refused with 400 before any transaction or token request.
 */
const SINGLE = ['state', 'code', 'iss', 'error', 'error_description', 'error_uri'] as const

/**
 * Completes a login: the transaction of `state` is consumed, the authorization response is
 * validated (state, RFC 9207 `iss`, error) and the code exchanged with the PKCE verifier; the ID
 * token is required and checked (signature, pinned alg, iss, aud, nonce, exp). A fresh session
 * replaces any previous one (no fixation), then a redirect to the transaction's returnTo.
 */
const callback: RouteHandler = async (app, ctx) => {
  const { settings } = app
  if (ctx.url.search.length > MAX_QUERY) {
    throw new CallbackError('the callback query is too long', 'query_too_long')
  }
  const params = ctx.url.searchParams
  for (const name of SINGLE) {
    if (params.getAll(name).length > 1) {
      throw new CallbackError(`the "${name}" parameter is repeated`, 'duplicate_parameter')
    }
  }
  const provider = await app.provider.get()
  const transaction = await takeTransaction(app, ctx, params.get('state'))
  const tokens = await exchangeCode(provider, settings, params, transaction)
  const claims = tokens.claims
  if (!tokens.idToken || !claims) throw new CallbackError('no ID token')
  const now = epoch(settings)
  let session: SessionData = {
    id: randomId(),
    iss: claims.iss,
    sub: claims.sub,
    sid: typeof claims.sid === 'string' ? claims.sid : undefined,
    idToken: tokens.idToken,
    accessToken: tokens.accessToken,
    tokenType: tokens.tokenType,
    expiresAt: tokens.expiresAt,
    refreshToken: tokens.refreshToken,
    scope: tokens.scope,
    ...(transaction.dpopKey ? { dpopKey: transaction.dpopKey } : {}),
    createdAt: now,
    updatedAt: now,
  }
  if (settings.fetchUserinfo) {
    // OIDC Core 5.3.4: the userinfo `sub` must be the ID token's (checked by fetchUserinfo)
    const userinfo = await fetchUserinfo(
      provider,
      tokens.accessToken,
      claims.sub,
      transaction.dpopKey,
    )
    const user = { ...userClaims(tokens.idToken, claims.sub), ...userinfo, sub: claims.sub }
    session = { ...session, user: user as UserClaims }
  }
  if (settings.beforeSessionSaved) {
    const kept = await settings.beforeSessionSaved({
      user: session.user ?? userClaims(tokens.idToken, claims.sub),
      idToken: tokens.idToken,
      tokens: session,
    })
    session = { ...session, user: kept.user, idToken: kept.idToken }
  }
  await replaceSession(app, ctx, session)
  return redirect(transaction.returnTo)
}

/** The callback route (the redirect_uri): GET. */
export const callbackRoute: Route = { methods: ['GET'], handle: callback }

/** The callback route, for an app that mounts it itself. */
export function handleCallback(auth: Auth, ctx: HttpContext): Promise<AuthResponse> {
  return serve(appOf(auth), callbackRoute, ctx)
}

import type { Auth } from './auth.js'
import type { HttpContext } from './context.js'
import { CallbackError } from './errors.js'
import { exchangeCode, fetchUserinfo } from './provider.js'
import { type AuthResponse, redirect } from './responses.js'
import {
  clearSession,
  epoch,
  randomId,
  type SessionData,
  storeSession,
  type UserClaims,
  userClaims,
} from './session.js'
import { takeTransaction } from './transaction.js'

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
 * token is required and checked (signature, pinned alg, iss, aud, nonce, exp). A fresh session is
 * sealed, then a redirect to the transaction's returnTo.
 */
export async function handleCallback(auth: Auth, ctx: HttpContext): Promise<AuthResponse> {
  const { options } = auth
  if (ctx.url.search.length > MAX_QUERY) {
    throw new CallbackError('the callback query is too long', 'query_too_long')
  }
  const params = ctx.url.searchParams
  for (const name of SINGLE) {
    if (params.getAll(name).length > 1) {
      throw new CallbackError(`the "${name}" parameter is repeated`, 'duplicate_parameter')
    }
  }
  const provider = await auth.provider.get()
  const transaction = await takeTransaction(ctx, options, params.get('state'))
  const tokens = await exchangeCode(provider, options, params, transaction)
  const claims = tokens.claims
  if (!tokens.idToken || !claims) throw new CallbackError('no ID token')
  const now = epoch(options)
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
    createdAt: now,
    updatedAt: now,
  }
  if (options.fetchUserinfo) {
    // OIDC Core 5.3.4: the userinfo `sub` must be the ID token's (checked by fetchUserinfo)
    const userinfo = await fetchUserinfo(provider, tokens.accessToken, claims.sub)
    const user = { ...userClaims(tokens.idToken, claims.sub), ...userinfo, sub: claims.sub }
    session = { ...session, user: user as UserClaims }
  }
  if (options.beforeSessionSaved) {
    const kept = await options.beforeSessionSaved({
      user: session.user ?? userClaims(tokens.idToken, claims.sub),
      idToken: tokens.idToken,
      tokens: session,
    })
    session = { ...session, user: kept.user, idToken: kept.idToken }
  }
  // a fresh session at every login (no fixation): the previous one, if any, is ended first
  await clearSession(ctx, options)
  await storeSession(ctx, options, session)
  return redirect(transaction.returnTo)
}

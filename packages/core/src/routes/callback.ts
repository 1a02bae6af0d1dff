import { type App, type Auth, appOf } from '../auth.js'
import { epoch } from '../clock.js'
import { CallbackError, ProviderError, StepUpError } from '../errors.js'
import { type HttpContext, requestPath } from '../http/context.js'
import { type AuthResponse, redirect } from '../http/responses.js'
import { currentPath } from '../http/return-to.js'
import type { Settings } from '../options.js'
import { userClaims } from '../protocol/claims.js'
import { exchangeCode, fetchUserinfo, type TokenSet } from '../protocol/provider.js'
import { type Transaction, takeTransaction } from '../protocol/transaction.js'
import { randomId } from '../random.js'
import { replaceSession } from '../session/end.js'
import { loginUrlOf } from '../session/guard.js'
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
  if (ctx.url.search.length > MAX_QUERY) {
    throw new CallbackError('the callback query is too long', 'query_too_long')
  }
  const params = ctx.url.searchParams
  for (const name of SINGLE) {
    if (params.getAll(name).length > 1) {
      throw new CallbackError(`the "${name}" parameter is repeated`, 'duplicate_parameter')
    }
  }
  const transaction = await takeTransaction(app, ctx, params.get('state'))
  // the provider the login was sent to, and no other: its issuer must be the response's `iss`
  // (RFC 9207) and the ID token's, its token endpoint takes the code (a mix-up defence)
  const settings = providerOfTransaction(app, transaction)
  // RFC 9700 §4.4.2: a response of one provider sent on to another's login is told apart by its
  // redirect_uri, or by its `iss`; without either, it cannot be
  if (requestPath(ctx) !== settings.routes.callback) {
    throw new CallbackError(
      "the sign-in came back to another provider's address",
      'wrong_callback',
      {
        hint: `a login at ${JSON.stringify(settings.providerId)} came back to ${requestPath(ctx)}, not to its redirect_uri ${settings.callbackUrl}`,
      },
    )
  }
  if (settings.sharedCallback && !params.has('iss')) {
    throw new CallbackError('the identity provider did not say who it is (iss)', 'missing_iss', {
      hint: `provider ${JSON.stringify(settings.providerId)} shares its callback with another provider and its response has no "iss" (RFC 9207), so a mix-up cannot be ruled out (RFC 9700 §4.4.2): give it a "${settings.optionPrefix}callbackPath" of its own (and register that redirect_uri), or have it send "iss"`,
    })
  }
  const provider = await app.providers.get(settings)
  let tokens: TokenSet
  try {
    tokens = await exchangeCode(provider, settings, params, transaction)
  } catch (error) {
    // a silent login the provider cannot do without the user: back, still anonymous (OIDC Core
    // 3.1.2.6), rather than an error page
    if (transaction.silent && error instanceof ProviderError) {
      app.report({
        // what OIDC Core 3.1.2.6 says a silent login may be answered is routine; anything else
        // (prompt=none not supported, access_denied) is worth a look
        level: SILENT.has(error.error) ? 'debug' : 'warn',
        code: 'silent_login_declined',
        message: `a silent login (prompt=none) was answered ${error.error}: the browser goes back anonymous`,
      })
      return redirect(transaction.returnTo)
    }
    throw error
  }
  const claims = tokens.claims
  if (!tokens.idToken || !claims) throw new CallbackError('no ID token')
  const now = epoch(settings)
  const authTime = typeof claims.auth_time === 'number' ? claims.auth_time : undefined
  const acr = typeof claims.acr === 'string' ? claims.acr : undefined
  checkAuthentication(app, transaction, authTime, acr, now)
  let session: SessionData = {
    id: randomId(),
    iss: claims.iss,
    ...(settings.multipleProviders ? { provider: settings.providerId } : {}),
    clientId: settings.clientId,
    sub: claims.sub,
    sid: typeof claims.sid === 'string' ? claims.sid : undefined,
    idToken: tokens.idToken,
    accessToken: tokens.accessToken,
    tokenType: tokens.tokenType,
    expiresAt: tokens.expiresAt,
    refreshToken: tokens.refreshToken,
    scope: tokens.scope,
    ...(transaction.dpopKey ? { dpopKey: transaction.dpopKey } : {}),
    ...(authTime === undefined ? {} : { authTime }),
    ...(acr === undefined ? {} : { acr }),
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
  // a browser that signed in needs no silent attempt (nor one after it signs out, until it closes)
  if (settings.attemptSilentLogin) app.cookies.writeSilentTried(ctx)
  return redirect(transaction.returnTo)
}

/**
 * The provider of a login transaction; one the app no longer signs in with (its configuration
 * changed during the login) is a 400 like any stale transaction.
 */
function providerOfTransaction(app: App, transaction: Transaction): Settings {
  if (transaction.iss === undefined) return app.providers.default
  const settings = app.providers.of(transaction as Transaction & { iss: string })
  if (settings === undefined) {
    throw new CallbackError(
      'the sign-in started with a provider this app no longer signs in with',
      'unknown_provider',
      {
        hint: `the login transaction was for ${JSON.stringify(transaction.provider ?? transaction.iss)}, which is not among "providers" now`,
      },
    )
  }
  return settings
}

/** What a provider answers a `prompt=none` login it cannot complete silently (OIDC Core 3.1.2.6). */
const SILENT = new Set([
  'login_required',
  'consent_required',
  'interaction_required',
  'account_selection_required',
])

/**
 * The authentication the login asked for (OIDC Core 3.1.3.7 steps 12 and 13 with `max_age`, and
 * the `acr` a step-up requires): else the login fails with 401 and no session.
 */
function checkAuthentication(
  app: App,
  transaction: Transaction,
  authTime: number | undefined,
  acr: string | undefined,
  now: number,
): void {
  const { maxAge, acr: required } = transaction
  const asked = { maxAge, acrValues: required }
  const again = loginUrlOf(app, currentPath(new URL(transaction.returnTo)), {
    provider: transaction.provider,
  })
  if (maxAge !== undefined) {
    if (authTime === undefined) {
      throw new StepUpError(
        'the identity provider did not say when you signed in (auth_time), which this page needs',
        again,
        asked,
        'step_up_failed',
      )
    }
    if (now - authTime > maxAge + app.settings.clockTolerance) {
      throw new StepUpError(
        'the sign-in is not recent enough for this page: sign in again',
        again,
        asked,
        'step_up_failed',
      )
    }
  }
  if (required !== undefined && (acr === undefined || !required.includes(acr))) {
    throw new StepUpError(
      'the sign-in did not use the authentication this page needs',
      again,
      asked,
      'step_up_failed',
    )
  }
}

/** The callback route (the redirect_uri): GET. */
export const callbackRoute: Route = { methods: ['GET'], handle: callback }

/** The callback route, for an app that mounts it itself. */
export function handleCallback(auth: Auth, ctx: HttpContext): Promise<AuthResponse> {
  return serve(appOf(auth), callbackRoute, ctx)
}

import { type App, type Auth, appOf } from '../auth.js'
import { ForbiddenError } from '../errors.js'
import type { HttpContext } from '../http/context.js'
import { type AuthResponse, escapeHtml, htmlPage, redirect } from '../http/responses.js'
import { safeReturnTo } from '../http/return-to.js'
import type { LogoutUrl, LogoutUrlContext } from '../options.js'
import { endSessionUrl, revokeRefreshToken } from '../protocol/provider.js'
import { randomId } from '../random.js'
import { seal, unseal } from '../seal/seal.js'
import { endSession } from '../session/end.js'
import { readSession } from '../session/read.js'
import type { Session } from '../session/types.js'
import { type Route, type RouteHandler, serve } from './route.js'

/** Options of one logout request. */
export interface LogoutOptions {
  /**
   * where to land after the logout, same-origin only (checked like login's `returnTo`); default
   * the `returnTo` query parameter (or form field of a POST), else `postLogoutRedirect`
   */
  returnTo?: string
}

/** Seconds the logout cookie lives: the round trip through the provider's logout page. */
const LOGOUT_TTL = 600

/**
 * Whether a request provably comes from our own origin: the `Origin` header, or else Fetch
 * Metadata's `Sec-Fetch-Site`. `none` (typed in the address bar, a bookmark) counts only for GET.
 */
function sameOrigin(ctx: HttpContext, origin: string): boolean {
  const site = ctx.headers.get('sec-fetch-site')
  if (ctx.method === 'GET') return site === 'same-origin' || site === 'none'
  const requestOrigin = ctx.headers.get('origin')
  if (requestOrigin !== null) return requestOrigin === origin
  return site === 'same-origin'
}

function confirmationPage(app: App, returnTo: string | undefined): AuthResponse {
  const query = returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(returnTo)}`
  const action = escapeHtml(app.settings.origin + app.settings.routes.logout + query)
  return htmlPage(
    200,
    'Sign out?',
    `<form method="post" action="${action}"><button type="submit">Sign out</button></form>`,
  )
}

/** The requested `returnTo`, absolute on our origin, or `undefined` when absent or unsafe. */
async function requestedReturnTo(
  app: App,
  ctx: HttpContext,
  options: LogoutOptions,
  readBody: boolean,
): Promise<string | undefined> {
  let requested: string | null | undefined =
    options.returnTo ?? ctx.url.searchParams.get('returnTo')
  if (requested === null && readBody) requested = (await ctx.readForm()).get('returnTo')
  return safeReturnTo(requested, app.settings.baseUrl)
}

/**
 * Logs out: a same-origin POST (or a same-origin GET) ends the local session and, in the same
 * response, redirects to the provider's end_session_endpoint with id_token_hint, client_id, the
 * registered post_logout_redirect_uri and a random `state`, after revoking the refresh token (RFC
 * 7009) where the provider offers it. A same-origin `returnTo` rides along in a short sealed
 * cookie bound to that `state`, and is where the browser lands when the provider sends it back
 * (see `finishLogout`); without an end_session_endpoint, or while the provider is down, the
 * logout is local and redirects there (or home) at once. A cross-site GET gets a confirmation
 * page and changes nothing; a cross-site POST gets 403.
 */
const logout: RouteHandler<LogoutOptions> = async (app, ctx, options = {}) => {
  const { settings } = app
  const isPost = ctx.method === 'POST'
  // HEAD never changes state: it gets the confirmation page's headers
  if (ctx.method === 'HEAD' || !sameOrigin(ctx, settings.origin)) {
    if (isPost) throw new ForbiddenError('cross-site logout refused', 'cross_site_request')
    return confirmationPage(app, await requestedReturnTo(app, ctx, options, false))
  }
  const returnTo = await requestedReturnTo(app, ctx, options, isPost)
  const landing = returnTo ?? settings.postLogoutRedirectUrl
  const session = await readSession(app, ctx)
  await endSession(app, ctx, 'signed-out')
  // a user who signed out is not signed in again silently (until the browser closes)
  if (settings.attemptSilentLogin) app.cookies.writeSilentTried(ctx)
  const status = isPost ? 303 : 302
  if (!session) return redirect(landing, status)
  const target = await providerLogout(app, session)
  if (target === undefined) return redirect(landing, status)
  if (returnTo !== undefined && returnTo !== settings.postLogoutRedirectUrl) {
    const value = await seal(
      'logout',
      { state: target.state, returnTo },
      settings.sealKeys.logout,
      LOGOUT_TTL,
    )
    app.cookies.writeLogoutState(ctx, value, LOGOUT_TTL)
  }
  return redirect(target.url, status)
}

/**
 * The provider's side of a logout: the refresh token revoked (a failure is reported, the logout
 * goes on), and the end-session URL with a fresh `state` (RP-Initiated Logout 1.0 §2: the provider
 * sends it back with the browser); `undefined` without an end_session_endpoint, or while the
 * provider is unavailable (reported: the local session was ended only).
 */
async function providerLogout(
  app: App,
  session: Session,
): Promise<{ url: string; state: string } | undefined> {
  const state = randomId()
  try {
    const settings = app.providers.ofSession(session)
    const provider = await app.providers.get(settings)
    if (session.refreshToken) {
      // RFC 7009: the refresh token must not outlive the session
      await revokeRefreshToken(provider, session.refreshToken).catch((error: unknown) =>
        app.report({
          level: 'warn',
          code: 'revocation_failed',
          message: 'the refresh token could not be revoked at logout',
          error,
        }),
      )
    }
    const standard = endSessionUrl(provider, {
      ...(session.idToken === undefined ? {} : { id_token_hint: session.idToken }),
      client_id: settings.clientId,
      post_logout_redirect_uri: settings.postLogoutRedirectUrl,
      state,
    })
    const url = settings.logoutUrl
      ? await customLogoutUrl(app, {
          issuer: provider.issuer,
          endSessionEndpoint: provider.config.serverMetadata().end_session_endpoint,
          standardUrl: standard,
          clientId: settings.clientId,
          idToken: session.idToken,
          postLogoutRedirectUri: settings.postLogoutRedirectUrl,
          state,
          user: session.user,
        })
      : standard
    return url === undefined ? undefined : { url, state }
  } catch (error) {
    app.report({
      level: 'warn',
      code: 'logout_provider_unavailable',
      message: 'the provider is unavailable; the local session was cleared only',
      error,
    })
    return undefined
  }
}

/**
 * What the app's `logoutUrl` builds: its URL when it is one the browser may be sent to (https, or
 * http on loopback with `allowInsecureRequests`); otherwise reported, and `undefined` (the local
 * session only was ended).
 */
async function customLogoutUrl(app: App, context: LogoutUrlContext): Promise<string | undefined> {
  let built: string | URL | undefined
  try {
    built = await (app.settings.logoutUrl as LogoutUrl)(context)
  } catch (error) {
    app.report({
      level: 'error',
      code: 'logout_url_failed',
      message: '"logoutUrl" threw: the local session was ended only',
      error,
    })
    return undefined
  }
  if (built === undefined) return undefined
  let url: URL | undefined
  try {
    url = new URL(String(built))
  } catch {
    url = undefined
  }
  const loopback = url !== undefined && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)
  const allowed =
    url !== undefined &&
    (url.protocol === 'https:' ||
      (url.protocol === 'http:' && loopback && app.settings.allowInsecureRequests))
  if (!allowed || url === undefined) {
    app.report({
      level: 'error',
      code: 'logout_url_refused',
      // the scheme and host only: its query may hold the ID token
      message: `"logoutUrl" returned ${url ? `a ${url.protocol} URL for ${url.host || 'no host'}` : 'something that is not a URL'}, not an https URL: the local session was ended only`,
    })
    return undefined
  }
  return url.href
}

/** The logout route: GET (a confirmation page when cross-site) and POST. */
export const logoutRoute: Route<LogoutOptions> = { methods: ['GET', 'POST'], handle: logout }

/** The logout route, for an app that mounts it itself. */
export function handleLogout(
  auth: Auth,
  ctx: HttpContext,
  options?: LogoutOptions,
): Promise<AuthResponse> {
  return serve(appOf(auth), logoutRoute, ctx, options)
}

/**
 * The end of a logout through the provider: when the browser comes back to the
 * post_logout_redirect_uri with the `state` of this browser's logout cookie, a redirect to the
 * `returnTo` it carries. The cookie is deleted whatever happens; anything else is `undefined`
 * (not ours: the app serves its page).
 */
export async function finishLogout(app: App, ctx: HttpContext): Promise<AuthResponse | undefined> {
  const value = app.cookies.logoutState(ctx)
  if (value === undefined) return undefined
  app.cookies.deleteLogoutState(ctx)
  const state = ctx.url.searchParams.get('state')
  const sealed = await unseal<{ state?: unknown; returnTo?: unknown }>(
    'logout',
    value,
    app.settings.sealKeys.logout,
    () => undefined,
  )
  if (state === null || !sealed || sealed.state !== state) return undefined
  const returnTo = safeReturnTo(sealed.returnTo, app.settings.baseUrl)
  return returnTo === undefined ? undefined : redirect(returnTo)
}

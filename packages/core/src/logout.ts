import type { Auth } from './auth.js'
import { type HttpContext, requestCookies, writeCookies } from './context.js'
import { deletionCookie, makeCookie } from './cookies.js'
import { AuthError, ForbiddenError } from './errors.js'
import { report } from './logger.js'
import { endSessionUrl, revokeRefreshToken } from './provider.js'
import { type AuthResponse, escapeHtml, htmlPage, redirect } from './responses.js'
import { safeReturnTo } from './return-to.js'
import { seal, unseal } from './seal.js'
import { clearSession, loadSession, randomId, revokeSession } from './session.js'

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

function confirmationPage(auth: Auth, returnTo: string | undefined): AuthResponse {
  const query = returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(returnTo)}`
  const action = escapeHtml(auth.options.origin + auth.options.routes.logout + query)
  return htmlPage(
    200,
    'Sign out?',
    `<form method="post" action="${action}"><button type="submit">Sign out</button></form>`,
  )
}

/** The requested `returnTo`, absolute on our origin, or `undefined` when absent or unsafe. */
async function requestedReturnTo(
  auth: Auth,
  ctx: HttpContext,
  logout: LogoutOptions,
  readBody: boolean,
): Promise<string | undefined> {
  let requested: string | null | undefined = logout.returnTo ?? ctx.url.searchParams.get('returnTo')
  if (requested === null && readBody) requested = (await ctx.readForm()).get('returnTo')
  return safeReturnTo(requested, auth.options.baseUrl)
}

/**
 * Logs out: a same-origin POST (or a same-origin GET) clears the local session and, in the same
 * response, redirects to the provider's end_session_endpoint with id_token_hint, client_id, the
 * registered post_logout_redirect_uri and a random `state`, after revoking the refresh token (RFC
 * 7009) where the provider offers it. A same-origin `returnTo` rides along in a short sealed
 * cookie bound to that `state`, and is where the browser lands when the provider sends it back
 * (see `finishLogout`); without an end_session_endpoint, or while the provider is down, the
 * logout is local and redirects there (or home) at once. A cross-site GET gets a confirmation
 * page and changes nothing; a cross-site POST gets 403.
 */
export async function handleLogout(
  auth: Auth,
  ctx: HttpContext,
  logout: LogoutOptions = {},
): Promise<AuthResponse> {
  const { options } = auth
  const isPost = ctx.method === 'POST'
  if (!isPost && ctx.method !== 'GET' && ctx.method !== 'HEAD') {
    throw new AuthError('use GET or POST to sign out', 'method_not_allowed', 405, {
      headers: { Allow: 'GET, POST' },
    })
  }
  // HEAD never changes state: it gets the confirmation page's headers
  if (ctx.method === 'HEAD' || !sameOrigin(ctx, options.origin)) {
    if (isPost) throw new ForbiddenError('cross-site logout refused', 'cross_site_request')
    return confirmationPage(auth, await requestedReturnTo(auth, ctx, logout, false))
  }
  const returnTo = await requestedReturnTo(auth, ctx, logout, isPost)
  const landing = returnTo ?? options.postLogoutRedirectUrl
  const session = await loadSession(ctx, options)
  if (session) await revokeSession(auth.options, session)
  await clearSession(ctx, options)
  const status = isPost ? 303 : 302
  if (!session) return redirect(landing, status)
  let target: string | undefined
  // RP-Initiated Logout 1.0 §2: the provider sends `state` back with the browser
  const state = randomId()
  try {
    const provider = await auth.provider.get()
    if (session.refreshToken) {
      // RFC 7009: the refresh token must not outlive the session; a failure is reported and the
      // logout goes on (the local session is already cleared)
      await revokeRefreshToken(provider, session.refreshToken).catch((error: unknown) =>
        report(options.logger, {
          level: 'warn',
          code: 'revocation_failed',
          message: 'the refresh token could not be revoked at logout',
          error,
        }),
      )
    }
    target = endSessionUrl(provider, {
      ...(session.idToken === undefined ? {} : { id_token_hint: session.idToken }),
      client_id: options.clientId,
      post_logout_redirect_uri: options.postLogoutRedirectUrl,
      state,
    })
  } catch (error) {
    report(options.logger, {
      level: 'warn',
      code: 'logout_provider_unavailable',
      message: 'the provider is unavailable; the local session was cleared only',
      error,
    })
  }
  if (target === undefined) return redirect(landing, status)
  if (returnTo !== undefined && returnTo !== options.postLogoutRedirectUrl) {
    const value = await seal('logout', { state, returnTo }, options.passwords, LOGOUT_TTL)
    writeCookies(ctx, [makeCookie(options.logoutCookieName, value, options.secure, LOGOUT_TTL)])
  }
  return redirect(target, status)
}

/**
 * The end of a logout through the provider: when the browser comes back to the
 * post_logout_redirect_uri with the `state` of this browser's logout cookie, a redirect to the
 * `returnTo` it carries. The cookie is deleted whatever happens; anything else is `undefined`
 * (not ours: the app serves its page).
 */
export async function finishLogout(
  auth: Auth,
  ctx: HttpContext,
): Promise<AuthResponse | undefined> {
  const { options } = auth
  const value = requestCookies(ctx).get(options.logoutCookieName)
  if (value === undefined) return undefined
  writeCookies(ctx, [deletionCookie(options.logoutCookieName, options.secure)])
  const state = ctx.url.searchParams.get('state')
  const sealed = await unseal<{ state?: unknown; returnTo?: unknown }>(
    'logout',
    value,
    options.passwords,
    () => undefined,
  )
  if (state === null || !sealed || sealed.state !== state) return undefined
  const returnTo = safeReturnTo(sealed.returnTo, options.baseUrl)
  return returnTo === undefined ? undefined : redirect(returnTo)
}

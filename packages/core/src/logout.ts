import type { Auth } from './auth.js'
import type { HttpContext } from './context.js'
import { AuthError, ForbiddenError } from './errors.js'
import { report } from './logger.js'
import { endSessionUrl, revokeRefreshToken } from './provider.js'
import { type AuthResponse, escapeHtml, htmlPage, redirect } from './responses.js'
import { clearSession, loadSession } from './session.js'

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

function confirmationPage(auth: Auth): AuthResponse {
  const action = escapeHtml(auth.options.origin + auth.options.routes.logout)
  return htmlPage(
    200,
    'Sign out?',
    `<form method="post" action="${action}"><button type="submit">Sign out</button></form>`,
  )
}

/**
 * Logs out: a same-origin POST (or a same-origin GET) clears the local session and, in the same
 * response, redirects to the provider's end_session_endpoint with id_token_hint, client_id and
 * the registered post_logout_redirect_uri, after revoking the refresh token (RFC 7009) where the
 * provider offers it. A cross-site GET gets a confirmation page and changes nothing; a cross-site
 * POST gets 403. A provider that is down does not block the local logout.
 */
export async function handleLogout(auth: Auth, ctx: HttpContext): Promise<AuthResponse> {
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
    return confirmationPage(auth)
  }
  const session = await loadSession(ctx, options)
  await clearSession(ctx, options)
  const status = isPost ? 303 : 302
  if (!session) return redirect(options.postLogoutRedirectUrl, status)
  let target: string | undefined
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
    })
  } catch (error) {
    report(options.logger, {
      level: 'warn',
      code: 'logout_provider_unavailable',
      message: 'the provider is unavailable; the local session was cleared only',
      error,
    })
  }
  return redirect(target ?? options.postLogoutRedirectUrl, status)
}

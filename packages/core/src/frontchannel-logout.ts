/**
 * The front-channel logout endpoint (OpenID Connect Front-Channel Logout 1.0): the provider loads
 * it in an iframe with `iss` and `sid` when the user signs out there. In a cross-site iframe the
 * browser does not send our SameSite=Lax cookie, so the logout works through the revocation of
 * `sid` (which every session read checks, on every instance sharing the store); when the cookie
 * does arrive and its session has that `sid`, it is cleared too.
 */
import type { Auth } from './auth.js'
import type { HttpContext } from './context.js'
import { AuthError } from './errors.js'
import { report } from './logger.js'
import { type AuthResponse, htmlPage } from './responses.js'
import { clearSession, loadSession } from './session.js'

/**
 * Handles a front-channel logout: `iss` (the provider's issuer) and `sid` are required (as with
 * `frontchannel_logout_session_required`: without them any page could log a visitor out), the
 * provider session `sid` is revoked, and this browser's session is cleared when it has that
 * `sid`. Answers a small HTML page with `Cache-Control: no-store`; a wrong or missing `iss` or
 * `sid` is a 400; HEAD changes nothing.
 */
export async function handleFrontchannelLogout(
  auth: Auth,
  ctx: HttpContext,
): Promise<AuthResponse> {
  const { options } = auth
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
    throw new AuthError('method not allowed', 'method_not_allowed', 405, {
      headers: { Allow: 'GET' },
    })
  }
  const invalid = (message: string) => new AuthError(message, 'invalid_request', 400)
  const params = ctx.url.searchParams
  const iss = params.getAll('iss')
  const sid = params.getAll('sid')
  if (iss.length !== 1 || sid.length !== 1) {
    throw invalid('exactly one "iss" and one "sid" are required')
  }
  const [issuer, session] = [iss[0] as string, sid[0] as string]
  if (session.length === 0 || session.length > 255) {
    throw invalid('"sid" must be 1 to 255 characters')
  }
  const provider = await auth.provider.get()
  if (issuer !== provider.issuer) throw invalid('unexpected "iss"')
  if (ctx.method === 'GET') {
    // read before the revocation, which would make it read as anonymous
    const current = await loadSession(ctx, options)
    await options.revocationStore.revoke(
      { iss: issuer, sid: session },
      options.absoluteDuration + options.clockTolerance,
    )
    if (current?.sid === session && current.iss === issuer) await clearSession(ctx, options)
    report(options.logger, {
      level: 'info',
      code: 'frontchannel_logout',
      message: 'a front-channel logout ended the sessions of a provider session',
    })
  }
  return htmlPage(200, 'Signed out', '<p>You have been signed out of this application.</p>')
}

/**
 * The front-channel logout endpoint (OpenID Connect Front-Channel Logout 1.0): the provider loads
 * it in an iframe with `iss` and `sid` when the user signs out there. In a cross-site iframe the
 * browser does not send our SameSite=Lax cookie, so the logout works through the revocation of
 * `sid` (which every session read checks, on every instance sharing the store); when the cookie
 * does arrive and its session has that `sid`, it is ended too.
 */
import { type Auth, appOf } from '../auth.js'
import { AuthError } from '../errors.js'
import type { HttpContext } from '../http/context.js'
import { type AuthResponse, htmlPage } from '../http/responses.js'
import { endSession } from '../session/end.js'
import { readSession } from '../session/read.js'
import { type Route, type RouteHandler, serve } from './route.js'

/**
 * Handles a front-channel logout: `iss` (the provider's issuer) and `sid` are required (as with
 * `frontchannel_logout_session_required`: without them any page could log a visitor out), the
 * provider session `sid` is revoked, and this browser's session is ended when it has that `sid`.
 * Answers a small HTML page with `Cache-Control: no-store`; a wrong or missing `iss` or `sid` is a
 * 400; HEAD changes nothing.
 */
const frontchannelLogout: RouteHandler = async (app, ctx) => {
  const { settings } = app
  const invalid = (message: string) => new AuthError(message, 'invalid_request', 400)
  const params = ctx.url.searchParams
  const iss = params.getAll('iss')
  const sid = params.getAll('sid')
  if (iss.length !== 1 || sid.length !== 1) {
    throw invalid('exactly one "iss" and one "sid" are required')
  }
  const [issuer, providerSession] = [iss[0] as string, sid[0] as string]
  if (providerSession.length === 0 || providerSession.length > 255) {
    throw invalid('"sid" must be 1 to 255 characters')
  }
  // the provider of that issuer: an app with `providers` has several
  const [of] = app.providers.byIssuer(issuer)
  if (of === undefined) throw invalid('unexpected "iss"')
  const provider = await app.providers.get(of)
  // exactly the provider's issuer (Front-Channel Logout 1.0 §2: the RP checks it)
  if (issuer !== provider.issuer) throw invalid('unexpected "iss"')
  if (ctx.method === 'GET') {
    // read before the revocation, which would make it read as anonymous
    const current = await readSession(app, ctx)
    const ours = current?.sid === providerSession && current.iss === issuer
    await app.revocations.revoke(
      // the user, when this browser's session is of that provider session (a cluster store
      // keeps each user's revocations in the user's slot)
      { iss: issuer, sid: providerSession, ...(ours ? { user: current.sub } : {}) },
      settings.absoluteDuration + settings.clockTolerance,
    )
    if (ours) {
      // the revocation of its provider session (above) ends every copy of it
      await endSession(app, ctx, 'dropped')
    }
    app.report({
      level: 'info',
      code: 'frontchannel_logout',
      message: 'a front-channel logout ended the sessions of a provider session',
    })
  }
  return htmlPage(200, 'Signed out', '<p>You have been signed out of this application.</p>')
}

/** The front-channel logout route: GET (HEAD changes nothing). */
export const frontchannelLogoutRoute: Route = { methods: ['GET'], handle: frontchannelLogout }

/** The front-channel logout route, for an app that mounts it itself. */
export function handleFrontchannelLogout(auth: Auth, ctx: HttpContext): Promise<AuthResponse> {
  return serve(appOf(auth), frontchannelLogoutRoute, ctx)
}

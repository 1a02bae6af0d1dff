/**
 * The one table of codeflow's routes: which path is which route (from the app's settings), and
 * what serves it.
 */
import { type App, type Auth, appOf } from '../auth.js'
import type { HttpContext } from '../http/context.js'
import { requestPath } from '../http/context.js'
import type { AuthResponse } from '../http/responses.js'
import { promised } from '../maybe.js'
import type { RouteName } from '../options.js'
import { backchannelLogoutRoute } from './backchannel-logout.js'
import { callbackRoute } from './callback.js'
import { frontchannelLogoutRoute } from './frontchannel-logout.js'
import { loginRoute } from './login.js'
import { finishLogout, logoutRoute } from './logout.js'
import { type Route, serve } from './route.js'

const ROUTES: { readonly [name in RouteName]: Route<never> } = {
  login: loginRoute,
  callback: callbackRoute,
  logout: logoutRoute,
  backchannelLogout: backchannelLogoutRoute,
  frontchannelLogout: frontchannelLogoutRoute,
}

/**
 * The response of the route at the request's path; at the post-logout landing path, the redirect
 * to a logout's `returnTo` when the browser brings back its `state`. `undefined` itself, not a
 * promise, for any other path ("not ours, call next"), so that such a request awaits nothing.
 */
export function routeRequest(
  app: App,
  ctx: HttpContext,
): Promise<AuthResponse | undefined> | undefined {
  const { settings } = app
  const path = requestPath(ctx)
  const name = settings.routeNames.get(path)
  if (name !== undefined) return serve(app, ROUTES[name], ctx)
  if (
    ctx.method === 'GET' &&
    path === settings.postLogoutRedirectPath &&
    app.cookies.logoutState(ctx) !== undefined
  ) {
    return finishLogout(app, ctx)
  }
  return undefined
}

/**
 * The dispatch table of codeflow's routes: the response for the login, callback, logout,
 * back-channel logout and front-channel logout paths, or `undefined` for any other path ("not
 * ours, call next"); at the post-logout landing path, the redirect to a logout's `returnTo` when
 * the browser brings back its `state`. Rejects with an `AuthError` for the adapter to render.
 */
export function handleAuthRoute(auth: Auth, ctx: HttpContext): Promise<AuthResponse | undefined> {
  return promised(() => routeRequest(appOf(auth), ctx))
}

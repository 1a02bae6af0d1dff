import type { Auth } from './auth.js'
import { handleBackchannelLogout } from './backchannel-logout.js'
import { handleCallback } from './callback.js'
import { type HttpContext, requestCookies, requestPath } from './context.js'
import { AuthError } from './errors.js'
import { handleFrontchannelLogout } from './frontchannel-logout.js'
import { handleLogin } from './login.js'
import { finishLogout, handleLogout } from './logout.js'
import type { AuthResponse } from './responses.js'

/** A rejection for a method other than GET or HEAD, else `undefined`. */
function onlyGet(ctx: HttpContext): Promise<never> | undefined {
  if (ctx.method === 'GET' || ctx.method === 'HEAD') return undefined
  return Promise.reject(
    new AuthError('method not allowed', 'method_not_allowed', 405, { headers: { Allow: 'GET' } }),
  )
}

/**
 * The one dispatch table of codeflow's routes. Returns the response for the login, callback,
 * logout, back-channel logout and front-channel logout paths, or `undefined` for any other path
 * ("not ours, call next"); at the post-logout landing path, the redirect to a logout's `returnTo`
 * when the browser brings back its `state`. Rejects with an `AuthError` for the adapter to pass to
 * the framework's error handling (see `errorResponse`).
 */
export function handleAuthRoute(auth: Auth, ctx: HttpContext): Promise<AuthResponse | undefined> {
  try {
    return handleAuthRouteNow(auth, ctx) ?? Promise.resolve(undefined)
  } catch (error) {
    return Promise.reject(error)
  }
}

/**
 * `handleAuthRoute` for adapters: `undefined` itself, not a promise, for a path that is not one of
 * codeflow's routes, so that the hot path awaits nothing.
 */
export function handleAuthRouteNow(
  auth: Auth,
  ctx: HttpContext,
): Promise<AuthResponse | undefined> | undefined {
  const { routes } = auth.options
  const path = requestPath(ctx)
  switch (path) {
    case routes.login:
      return onlyGet(ctx) ?? handleLogin(auth, ctx)
    case routes.callback:
      return onlyGet(ctx) ?? handleCallback(auth, ctx)
    case routes.logout:
      return handleLogout(auth, ctx)
    case routes.backchannelLogout:
      return handleBackchannelLogout(auth, ctx)
    case routes.frontchannelLogout:
      return handleFrontchannelLogout(auth, ctx)
    default:
      if (
        ctx.method === 'GET' &&
        path === auth.options.postLogoutRedirectPath &&
        requestCookies(ctx).has(auth.options.logoutCookieName)
      ) {
        return finishLogout(auth, ctx)
      }
      return undefined
  }
}

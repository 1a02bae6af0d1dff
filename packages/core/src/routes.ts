import type { Auth } from './auth.js'
import { handleBackchannelLogout } from './backchannel-logout.js'
import { handleCallback } from './callback.js'
import type { HttpContext } from './context.js'
import { AuthError } from './errors.js'
import { handleFrontchannelLogout } from './frontchannel-logout.js'
import { handleLogin } from './login.js'
import { finishLogout, handleLogout } from './logout.js'
import type { AuthResponse } from './responses.js'

function onlyGet(ctx: HttpContext): void {
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
    throw new AuthError('method not allowed', 'method_not_allowed', 405, {
      headers: { Allow: 'GET' },
    })
  }
}

/**
 * The one dispatch table of codeflow's routes. Returns the response for the login, callback,
 * logout, back-channel logout and front-channel logout paths, or `undefined` for any other path
 * ("not ours, call next"); at the post-logout landing path, the redirect to a logout's `returnTo`
 * when the browser brings back its `state`. Throws an `AuthError` for the adapter to pass to the
 * framework's error handling (see `errorResponse`).
 */
export async function handleAuthRoute(
  auth: Auth,
  ctx: HttpContext,
): Promise<AuthResponse | undefined> {
  const { routes } = auth.options
  switch (ctx.url.pathname) {
    case routes.login:
      onlyGet(ctx)
      return handleLogin(auth, ctx)
    case routes.callback:
      onlyGet(ctx)
      return handleCallback(auth, ctx)
    case routes.logout:
      return handleLogout(auth, ctx)
    case routes.backchannelLogout:
      return handleBackchannelLogout(auth, ctx)
    case routes.frontchannelLogout:
      return handleFrontchannelLogout(auth, ctx)
    default:
      if (ctx.method === 'GET' && ctx.url.pathname === auth.options.postLogoutRedirectPath) {
        return finishLogout(auth, ctx)
      }
      return undefined
  }
}

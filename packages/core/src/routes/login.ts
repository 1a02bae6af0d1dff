import { type App, type Auth, appOf } from '../auth.js'
import { epoch } from '../clock.js'
import type { HttpContext } from '../http/context.js'
import { type AuthResponse, redirect } from '../http/responses.js'
import { safeReturnTo } from '../http/return-to.js'
import { newDPoPKey } from '../protocol/dpop.js'
import { authorizationUrl, loginSecrets } from '../protocol/provider.js'
import { startTransaction } from '../protocol/transaction.js'
import { type Route, type RouteHandler, serve } from './route.js'

/** Options of one login request. */
export interface LoginOptions {
  /** where to go after login; checked to be same-origin; default the `returnTo` query parameter */
  returnTo?: string
}

/**
 * Starts a login: fresh PKCE verifier (S256), state and nonce, sealed in a transaction cookie of
 * their own, then a redirect to the provider's authorization endpoint.
 */
const login: RouteHandler<LoginOptions> = async (app, ctx, options = {}) => {
  const { settings } = app
  const requested = options.returnTo ?? ctx.url.searchParams.get('returnTo')
  const returnTo = safeReturnTo(requested, settings.baseUrl) ?? settings.homeUrl
  warnOfAnotherHost(app, ctx)
  const provider = await app.provider.get()
  const secrets = await loginSecrets()
  // the session's own DPoP key, made now: the code and the tokens are bound to it
  const dpopKey = settings.dpop ? await newDPoPKey() : undefined
  // first the URL (a pushed request may fail: then no transaction cookie is left behind)
  const url = await authorizationUrl(provider, settings, { ...secrets, dpopKey })
  await startTransaction(app, ctx, {
    state: secrets.state,
    nonce: secrets.nonce,
    codeVerifier: secrets.codeVerifier,
    returnTo,
    iat: epoch(settings),
    ...(dpopKey ? { dpopKey } : {}),
  })
  return redirect(url)
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * A login opened at another loopback name than `baseUrl`'s (127.0.0.1 for localhost): its
 * transaction cookie is set there, the provider returns to `baseUrl`, and the callback finds no
 * login. Told to the operator; proxies that rewrite Host make other mismatches normal.
 */
function warnOfAnotherHost(app: App, ctx: HttpContext): void {
  const { baseUrl } = app.settings
  const host = ctx.headers.get('host')
  if (host === null || host === baseUrl.host || !LOOPBACK.has(baseUrl.hostname)) return
  const name = host.replace(/:\d+$/, '')
  if (!LOOPBACK.has(name)) return
  app.report({
    level: 'warn',
    code: 'host_mismatch',
    message: `this browser started a login at http://${host}, but "baseUrl" is ${baseUrl.origin}: the login's cookie stays at ${host} and the provider returns to ${baseUrl.host}, so the sign-in fails; open the app at ${baseUrl.origin}, or set "baseUrl" to the address the browser uses`,
  })
}

/** The login route: GET. */
export const loginRoute: Route<LoginOptions> = { methods: ['GET'], handle: login }

/** The login route, for an app that mounts it itself. */
export function handleLogin(
  auth: Auth,
  ctx: HttpContext,
  options?: LoginOptions,
): Promise<AuthResponse> {
  return serve(appOf(auth), loginRoute, ctx, options)
}

import type { Auth } from './auth.js'
import type { HttpContext } from './context.js'
import { UnauthenticatedError } from './errors.js'
import { type AuthResponse, errorResponse, isNavigation, redirect } from './responses.js'
import { currentPath } from './return-to.js'
import { currentSession, loadSession, type Session } from './session.js'

/**
 * How a guard answers an anonymous request: `redirect` to login (pages), `json` 401 (APIs), or
 * `auto`: a redirect for a browser page navigation, 401 JSON otherwise.
 */
export type UnauthenticatedMode = 'auto' | 'redirect' | 'json'

/** Options of a guard. */
export interface GuardOptions {
  /** how to answer an anonymous request; default `auto` */
  unauthenticated?: UnauthenticatedMode
}

/** The outcome of a guard: the session, or the response to send instead. */
export type GuardResult =
  | { readonly session: Session; readonly response?: undefined }
  | { readonly session?: undefined; readonly response: AuthResponse }

/** The login URL that returns to the current page afterwards (GET only). */
export function loginUrl(auth: Auth, ctx: HttpContext): string {
  const url = auth.options.origin + auth.options.routes.login
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return url
  return `${url}?returnTo=${encodeURIComponent(currentPath(ctx.url))}`
}

/** The session, or throws `UnauthenticatedError` (401, with the login URL). */
export async function requireSession(auth: Auth, ctx: HttpContext): Promise<Session> {
  const session = await loadSession(ctx, auth.options)
  if (!session) throw new UnauthenticatedError(loginUrl(auth, ctx))
  return session
}

/**
 * Guards a route: the session when there is one; otherwise a 302 to login with a returnTo for a
 * page navigation, or a 401 JSON error with `WWW-Authenticate` for an API call. Synchronous when
 * the session read is (see `guardNow`); this one always returns a promise.
 */
export async function guard(
  auth: Auth,
  ctx: HttpContext,
  options: GuardOptions = {},
): Promise<GuardResult> {
  return guardNow(auth, ctx, options)
}

/**
 * `guard` for adapters: the result itself when the session read needed no I/O (a cached cookie
 * session: the hot path awaits nothing), else a promise of it. May throw as well as reject.
 */
export function guardNow(
  auth: Auth,
  ctx: HttpContext,
  options: GuardOptions = {},
): GuardResult | Promise<GuardResult> {
  const session = currentSession(ctx, auth.options)
  if (session instanceof Promise)
    return session.then((found) => guardResult(auth, ctx, options, found))
  return guardResult(auth, ctx, options, session)
}

function guardResult(
  auth: Auth,
  ctx: HttpContext,
  options: GuardOptions,
  session: Session | undefined,
): GuardResult {
  if (session) return { session }
  const mode = options.unauthenticated ?? 'auto'
  const url = loginUrl(auth, ctx)
  if (mode === 'redirect' || (mode === 'auto' && isNavigation(ctx))) {
    return { response: redirect(url) }
  }
  return { response: errorResponse(ctx, new UnauthenticatedError(url), { format: 'json' }) }
}

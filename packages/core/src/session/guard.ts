/** Guards: the session a route needs, or what to answer instead. */
import { type App, type Auth, appOf } from '../auth.js'
import { UnauthenticatedError } from '../errors.js'
import type { HttpContext } from '../http/context.js'
import { type AuthResponse, errorResponse, isNavigation, redirect } from '../http/responses.js'
import { currentPath } from '../http/return-to.js'
import { chain, type MaybePromise } from '../maybe.js'
import { readSession } from './read.js'
import type { Session } from './types.js'

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

/** The login URL, with `returnTo` (a path) to come back to afterwards when given. */
export function loginUrlOf(app: App, returnTo?: string): string {
  const url = app.settings.origin + app.settings.routes.login
  return returnTo === undefined ? url : `${url}?returnTo=${encodeURIComponent(returnTo)}`
}

/** The login URL that returns to the current page afterwards (GET and HEAD only). */
export function loginUrlFor(app: App, ctx: HttpContext): string {
  const back = ctx.method === 'GET' || ctx.method === 'HEAD' ? currentPath(ctx.url) : undefined
  return loginUrlOf(app, back)
}

/** The session, or throws `UnauthenticatedError` (401, with the login URL). */
export async function requireSession(auth: Auth, ctx: HttpContext): Promise<Session> {
  const app = appOf(auth)
  const session = await readSession(app, ctx)
  if (!session) throw new UnauthenticatedError(loginUrlFor(app, ctx))
  return session
}

/**
 * The session when there is one; otherwise a 302 to login with a returnTo for a page navigation,
 * or a 401 JSON error with `WWW-Authenticate` for an API call (see `GuardOptions`). At once when
 * the session read needs no I/O.
 */
export function guard(
  app: App,
  ctx: HttpContext,
  options: GuardOptions = {},
): MaybePromise<GuardResult> {
  return chain(readSession(app, ctx), (session): GuardResult => {
    if (session) return { session }
    const mode = options.unauthenticated ?? 'auto'
    const url = loginUrlFor(app, ctx)
    if (mode === 'redirect' || (mode === 'auto' && isNavigation(ctx))) {
      return { response: redirect(url) }
    }
    return { response: errorResponse(ctx, new UnauthenticatedError(url), { format: 'json' }) }
  })
}

/**
 * @codeflow/core/adapter: the kit every framework adapter is built on. An adapter turns its
 * framework's request into an `HttpContext`, calls `authenticate` (codeflow's route, else the
 * request's session) and `authorize` (a guard), and sends the `AuthResponse` it gets; `step` runs
 * either with one channel for errors. A request for a cached session needs no I/O: then the
 * result is there at once, and the adapter calls the next handler in the same tick.
 */
import { type App, type Auth, appOf } from './auth.js'
import { AuthError } from './errors.js'
import { answerError } from './http/answer.js'
import type { HttpContext } from './http/context.js'
import type { SetCookie } from './http/cookies.js'
import type { AuthResponse } from './http/responses.js'
import type { AuthLogEvent } from './logger.js'
import { chain, type MaybePromise } from './maybe.js'
import { type RequestAuth, requestAuth } from './request-auth.js'
import { silentLoginFor } from './routes/login.js'
import { routeRequest } from './routes/table.js'
import {
  type GuardOptions,
  type GuardResult,
  guard,
  loginUrlOf,
  type StepUp,
} from './session/guard.js'
import { readSession } from './session/read.js'

export { toAuth } from './auth.js'
export {
  createNodeContext,
  createWebContext,
  type HttpContext,
  MAX_FORM_BYTES,
  type NodeContext,
  type ResponseHeaders,
  type WebBody,
  type WebContext,
} from './http/context.js'
export {
  type CookieAttributes,
  MAX_SET_COOKIE_BYTES,
  type SetCookie,
  varyWithCookie,
  writeCookieHeaders,
} from './http/cookies.js'
export { forwardedCookieHeader } from './http/forwarding.js'
export {
  type AuthResponse,
  type ErrorResponseOptions,
  errorResponse,
  isNavigation,
} from './http/responses.js'
export { failure, type MaybePromise, rejectionTo, step } from './maybe.js'
export {
  type AnonymousAuth,
  type RequestAuth,
  requestAuth,
  type SignedInAuth,
} from './request-auth.js'
export { handleBackchannelLogout } from './routes/backchannel-logout.js'
export { handleCallback } from './routes/callback.js'
export { handleFrontchannelLogout } from './routes/frontchannel-logout.js'
export { handleLogin, type LoginOptions, startLogin } from './routes/login.js'
export { handleLogout, type LogoutOptions } from './routes/logout.js'
export { handleAuthRoute } from './routes/table.js'
export type { GuardOptions, GuardResult, StepUp, UnauthenticatedMode } from './session/guard.js'

/** What `authenticate` decided: codeflow's answer to send, or the request's `RequestAuth`. */
export type Authenticated =
  | { readonly response: AuthResponse; readonly auth?: undefined }
  | { readonly response?: undefined; readonly auth: RequestAuth }

/**
 * Serves the request when it is for one of codeflow's routes (the response to send); otherwise
 * reads its session (the `RequestAuth` to put on the request, then call the next handler). At
 * once when neither needs I/O; may throw as well as reject (use `step`).
 */
export function authenticate(auth: Auth, ctx: HttpContext): MaybePromise<Authenticated> {
  const app = appOf(auth)
  const routed = routeRequest(app, ctx)
  if (routed === undefined) return withSession(app, auth, ctx)
  return routed.then((response) => (response ? { response } : withSession(app, auth, ctx)))
}

function withSession(app: App, auth: Auth, ctx: HttpContext): MaybePromise<Authenticated> {
  return chain(readSession(app, ctx), (session): MaybePromise<Authenticated> => {
    const silent = session ? undefined : quietly(app, silentLoginFor(app, ctx))
    if (silent) {
      return silent.then((response) =>
        response ? { response } : { auth: requestAuth(auth, ctx, undefined) },
      )
    }
    return { auth: requestAuth(auth, ctx, session) }
  })
}

/**
 * A silent login that cannot start (the provider down, a push refused) is reported, and the
 * visitor goes on anonymous: a public page must not fail for a login nobody asked for.
 */
function quietly(
  app: App,
  attempt: Promise<AuthResponse> | undefined,
): Promise<AuthResponse | undefined> | undefined {
  return attempt?.catch((error: unknown) => {
    app.report({
      level: 'warn',
      code: 'silent_login_failed',
      message: `the silent login could not start (${error instanceof AuthError ? (error.hint ?? error.message) : String(error)}): the visitor goes on anonymous`,
      error,
    })
    return undefined
  })
}

/**
 * With `attemptSilentLogin`: the response that starts this browser session's one silent login
 * (a visitor without a session, at a GET page navigation), or `undefined`. For an adapter that
 * does not call `authenticate` on every request (the Next.js proxy).
 */
export async function silentLogin(auth: Auth, ctx: HttpContext): Promise<AuthResponse | undefined> {
  const app = appOf(auth)
  if (!app.settings.attemptSilentLogin) return undefined
  if (await readSession(app, ctx)) return undefined
  return quietly(app, silentLoginFor(app, ctx))
}

/**
 * A guard: the session when there is one; otherwise the response to send, a 302 to login (back to
 * this page afterwards) for a page navigation, a 401 JSON error with `WWW-Authenticate` for an API
 * call (see `GuardOptions`). At once when the session read needs no I/O; may throw as well as
 * reject (use `step`).
 */
export function authorize(
  auth: Auth,
  ctx: HttpContext,
  options?: GuardOptions,
): MaybePromise<GuardResult> {
  return guard(appOf(auth), ctx, options)
}

/**
 * What an adapter's error handler answers: reports the error to the logger, once, with its
 * operator `hint` when it has one (server and provider faults as `error`; the client's own as
 * `info`, or `warn` with a hint), and renders it for the user with `errorResponse`, linking back to
 * the app's home page, with the hint outside production.
 */
export function handleError(auth: Auth, ctx: HttpContext, error: unknown): AuthResponse {
  return answerError(appOf(auth), ctx, error)
}

/**
 * The paths codeflow's routes answer at (login, callback, logout, back- and front-channel
 * logout; every provider's callback): for a framework that must know its routes up front.
 */
export function authRoutePaths(auth: Auth): string[] {
  return [...appOf(auth).settings.routeNames.keys()]
}

/** The app's home page (its base URL's path, with a trailing slash). */
export function homeUrl(auth: Auth): string {
  return appOf(auth).settings.homeUrl
}

/**
 * The login URL, coming back to `returnTo` (a path on the app) afterwards when given, asking for
 * what a step-up needs (`maxAge`, `acr`: `/login` sends and checks them).
 */
export function loginUrl(auth: Auth, returnTo?: string, stepUp?: StepUp): string {
  return loginUrlOf(appOf(auth), returnTo, stepUp)
}

/** Reports an event of the adapter's own to the app's logger. */
export function reportEvent(auth: Auth, event: AuthLogEvent): void {
  appOf(auth).report(event)
}

/** A context that lists the cookies set through it (`createNodeContext`'s, `createWebContext`'s). */
export type RecordingContext = HttpContext & { readonly cookies: readonly SetCookie[] }

/** The codeflow instance that handles a request, as `attach` keeps it on the request. */
export interface Attached {
  readonly auth: Auth
  readonly ctx: RecordingContext
  /** the instance that ran before on the same request (two codeflow apps on one server) */
  readonly previous: Attached | undefined
}

// a property of the request object itself (not a WeakMap: an ephemeron per request slows the GC)
const ATTACHED = Symbol('codeflow.attached')

type Carrier = object & { [ATTACHED]?: Attached | undefined }

/**
 * The context of `auth` for the request `carrier` (Express's `req`, Koa's `ctx`), made by
 * `create` (given the app's origin) once per request and instance, and kept on the carrier for
 * the guards and error handlers that run later on the same request.
 */
export function attach(
  carrier: object,
  auth: Auth,
  create: (origin: string) => RecordingContext,
): Attached {
  const current = (carrier as Carrier)[ATTACHED]
  if (current?.auth === auth) return current
  const attached: Attached = {
    auth,
    ctx: create(appOf(auth).settings.origin),
    previous: current,
  }
  ;(carrier as Carrier)[ATTACHED] = attached
  return attached
}

/** The codeflow instance `attach` kept on the request `carrier` last, if any. */
export function attached(carrier: object): Attached | undefined {
  return (carrier as Carrier)[ATTACHED]
}

/**
 * Every cookie the codeflow instances on the request `carrier` wrote, in order: what a framework
 * that drops the response's headers on an error must put back.
 */
export function writtenCookies(carrier: object): SetCookie[] {
  const cookies: SetCookie[] = []
  for (let entry = attached(carrier); entry; entry = entry.previous) {
    cookies.unshift(...entry.ctx.cookies)
  }
  return cookies
}

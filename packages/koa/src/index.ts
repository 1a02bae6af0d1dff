/**
 * @codeflow/koa: OpenID Connect login for Koa. A thin adapter on the core's kit: it builds the
 * core's context from `ctx.req`/`ctx.res`, and sends what the core answers.
 */
import {
  type Auth,
  AuthError,
  type AuthOptions,
  type GuardOptions,
  type RequestAuth,
  type SignedInAuth,
} from '@codeflow/core'
import {
  type Attached,
  type Authenticated,
  type AuthResponse,
  attach,
  attached,
  authenticate,
  authorize,
  createNodeContext,
  failure,
  type GuardResult,
  handleError,
  handleLogout,
  type LoginOptions,
  type LogoutOptions,
  type MaybePromise,
  requestAuth,
  startLogin,
  toAuth,
  writeCookieHeaders,
  writtenCookies,
} from '@codeflow/core/adapter'
import type { Context, DefaultState, Middleware, Next, ParameterizedContext } from 'koa'

/** What `auth()` puts on the request: see the core's `RequestAuth`. */
export type { LoginOptions, LogoutOptions, RequestAuth, SignedInAuth }

/** The state behind `requireAuth`: its `auth` is signed in. */
export type AuthenticatedState = DefaultState & { auth: SignedInAuth }

/** A context behind `requireAuth`. */
export type AuthenticatedContext = ParameterizedContext<AuthenticatedState>

/**
 * What `requireAuth` returns: middleware for any context, whose type tells @koa/router that the
 * middleware after it sees `AuthenticatedState`.
 */
export type AuthGuard = Middleware & Middleware<AuthenticatedState>

/** A handler behind `requireAuth(handler)`. */
export type AuthenticatedHandler = (ctx: AuthenticatedContext, next: Next) => unknown

declare module 'koa' {
  interface DefaultState {
    /** set by `@codeflow/koa`'s `auth()` */
    auth?: RequestAuth
  }
}

/**
 * Koa's default error handling removes every header already set, the Set-Cookie that deletes a
 * used login transaction or an ended session included, then sets the error's `headers`. The
 * error passed on is a per-request view of the original (errors may be shared by concurrent
 * requests, so they are never changed) whose `headers` add the cookies codeflow wrote.
 */
function withCookies(ctx: Context, error: unknown): unknown {
  const cookies = writtenCookies(ctx)
  if (cookies.length === 0 || !(error instanceof Error)) return error
  const headers: Record<string, string | string[]> = {}
  const setCookie: string[] = []
  for (const [name, value] of Object.entries((error as { headers?: object }).headers ?? {})) {
    if (name.toLowerCase() === 'set-cookie') setCookie.push(...[value].flat().map(String))
    else headers[name] = value
  }
  writeCookieHeaders(
    cookies,
    (_name, value) => setCookie.push(value),
    (name, value) => {
      headers[name] = value
    },
  )
  headers['Set-Cookie'] = setCookie
  return Object.create(error, { headers: { value: headers, enumerable: true } })
}

const WRAPPED = Symbol('codeflow.koa.onerror')

/**
 * Koa calls `ctx.onerror` for any error that no middleware caught: it is wrapped so that the
 * error it renders carries the cookies codeflow wrote (see `withCookies`). Once per app, on the
 * app's context prototype (`app.context`, Koa's place for extending every context), since a
 * closure made for every request's context grows the heap under load; a context not made from
 * `app.context`, or with an `onerror` of its own, gets its own wrapper.
 */
function keepCookiesOnError(ctx: Context): void {
  type Prototype = Context & { [WRAPPED]?: Context['onerror'] }
  const prototype = ctx.app?.context as Prototype | undefined
  if (
    prototype !== undefined &&
    Object.getPrototypeOf(ctx) === prototype &&
    !Object.hasOwn(ctx, 'onerror')
  ) {
    // wrapped already, unless the app replaced the wrapper since
    if (prototype[WRAPPED] !== undefined && prototype[WRAPPED] === prototype.onerror) return
    const onerror = prototype.onerror
    // Koa calls onerror(null) once per request when the response finishes (on-finished): that
    // call has no error to add cookies to, so it goes straight through
    const wrapper = function (this: Context, error: Error | null) {
      return onerror.call(this, (error == null ? error : withCookies(this, error)) as Error)
    }
    prototype.onerror = wrapper
    prototype[WRAPPED] = wrapper
    return
  }
  const onerror = ctx.onerror
  ctx.onerror = (error) =>
    onerror.call(ctx, (error == null ? error : withCookies(ctx, error)) as Error)
}

function contextOf(config: Auth, ctx: Context) {
  return attach(ctx, config, (origin) => {
    // the first codeflow instance on this request wraps onerror for every instance
    if (!attached(ctx)) keepCookiesOnError(ctx)
    // a body parser mounted before us has consumed the stream: its result is on ctx.request
    const parsedBody = () => (ctx.request as { body?: unknown }).body
    return createNodeContext(ctx.req, ctx.res, origin, ctx.originalUrl, parsedBody)
  }).ctx
}

function send(ctx: Context, response: AuthResponse): void {
  ctx.status = response.status
  ctx.set(response.headers)
  ctx.body = response.body ?? ''
}

// never falsy (`failure`): Koa would have no error to answer with, and the request would hang
const reject = (error: unknown) => Promise.reject(failure(error))

/** Koa middleware mounting `auth`'s routes and setting `ctx.state.auth`. */
export type AuthMiddleware = Middleware & {
  /** the core configuration, for `requireAuth` and the core's functions */
  readonly auth: Auth
}

/**
 * Mounts the login, callback and logout routes and sets `ctx.state.auth` on every request. Takes
 * the options of `createAuth` (validated now: a bad option throws at start-up) or an existing
 * `Auth`. Errors are thrown with `status` and `expose` for Koa's error handling; mount
 * `authErrorHandler()` first to render them as codeflow's pages.
 */
export function auth(options: AuthOptions | Auth): AuthMiddleware {
  const config = toAuth(options)
  // what `step` does, written out: no closures made per request on the hot path
  const middleware: Middleware = (ctx, next) => {
    let result: MaybePromise<Authenticated>
    try {
      result = authenticate(config, contextOf(config, ctx))
    } catch (error) {
      return reject(error)
    }
    return result instanceof Promise
      ? result.then((value) => authenticated(ctx, next, value), reject)
      : authenticated(ctx, next, result)
  }
  return Object.assign(middleware, { auth: config })
}

function authenticated(ctx: Context, next: Next, result: Authenticated): unknown {
  if (result.response) return send(ctx, result.response)
  ctx.state.auth = result.auth
  return next()
}

/**
 * Lets only signed-in requests through. Anonymous page navigations get a 302 to login (back to
 * this page afterwards), API calls a 401 JSON error with `WWW-Authenticate`; see `GuardOptions`.
 * The session is read again here, whatever ran before: `auth()` must be mounted first. The
 * middleware after it sees a signed-in `ctx.state.auth` (typed so with @koa/router).
 *
 * As `requireAuth(handler, options)` it wraps the route's handler, which then sees a signed-in
 * `ctx.state.auth` in its types (no `!`): `router.get('/me', requireAuth((ctx) => …))`.
 */
export function requireAuth(options?: GuardOptions): AuthGuard
export function requireAuth(handler: AuthenticatedHandler, options?: GuardOptions): AuthGuard
export function requireAuth(
  first?: GuardOptions | AuthenticatedHandler,
  second?: GuardOptions,
): AuthGuard {
  const handler = typeof first === 'function' ? first : undefined
  const options = (typeof first === 'function' ? second : first) ?? {}
  const authorized = (ctx: Context, next: Next, entry: Attached, result: GuardResult) => {
    if (result.response) return send(ctx, result.response)
    // auth() set it for the same session already, unless the session changed since
    if (ctx.state.auth?.session !== result.session) {
      ctx.state.auth = requestAuth(entry.auth, entry.ctx, result.session)
    }
    return handler ? handler(ctx as AuthenticatedContext, next) : next()
  }
  // what `step` does, written out: no closures made per request on the hot path
  const guard: Middleware = (ctx, next) => {
    const entry = attached(ctx)
    if (!entry) return reject(new Error('requireAuth() needs auth() mounted before it'))
    let result: MaybePromise<GuardResult>
    try {
      result = authorize(entry.auth, entry.ctx, options)
    } catch (error) {
      return reject(error)
    }
    return result instanceof Promise
      ? result.then((value) => authorized(ctx, next, entry, value), reject)
      : authorized(ctx, next, entry, result)
  }
  return guard as AuthGuard
}

/**
 * Starts a login from the app's own middleware, as `/login` does, with this login's options:
 * `returnTo`, `authorizationParams` (`{ prompt: 'login' }`, …), `maxAge` and `acr` (checked in
 * the new ID token). Sets the redirect to the provider on `ctx`; throws codeflow's errors (for
 * `authErrorHandler`). `router.get('/signup', (ctx) => login(ctx, { authorizationParams: { screen_hint: 'signup' } }))`
 */
export async function login(ctx: Context, options?: LoginOptions): Promise<void> {
  const entry = attached(ctx)
  if (!entry) throw new Error('login() needs auth() mounted before it')
  send(ctx, await startLogin(entry.auth, entry.ctx, options))
}

/**
 * Logs out from the app's own middleware, as `/logout` does (a GET from another site gets the
 * confirmation page; a POST must come from the app's origin), landing on `returnTo`.
 */
export async function logout(ctx: Context, options?: LogoutOptions): Promise<void> {
  const entry = attached(ctx)
  if (!entry) throw new Error('logout() needs auth() mounted before it')
  send(ctx, await handleLogout(entry.auth, entry.ctx, options))
}

/**
 * Renders codeflow's errors thrown downstream: an HTML page for page navigations, JSON otherwise,
 * with the right status, never a stack trace. Mount it first. Other errors are rethrown.
 */
export function authErrorHandler(): Middleware {
  return async (ctx, next) => {
    try {
      await next()
    } catch (error) {
      const entry = attached(ctx)
      if (!(error instanceof AuthError) || !entry || ctx.headerSent) throw error
      send(ctx, handleError(entry.auth, entry.ctx, error))
    }
  }
}

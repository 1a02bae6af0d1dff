/**
 * @codeflow/hono: OpenID Connect login for Hono 4, on Node.js and the Web runtimes the core runs
 * on. A thin adapter on the core's kit: it builds the core's context from the Web `Request`, and
 * answers what the core answers; the cookies the core set go on `c.res` once the app is done.
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
  type AuthResponse,
  attach,
  attached,
  authenticate,
  authorize,
  createWebContext,
  handleError,
  handleLogout,
  type LoginOptions,
  type LogoutOptions,
  reportEvent,
  requestAuth,
  startLogin,
  toAuth,
  varyWithCookie,
  type WebBody,
  type WebContext,
  writeCookieHeaders,
} from '@codeflow/core/adapter'
import type { Context, Env, ErrorHandler, MiddlewareHandler } from 'hono'
import type { StatusCode } from 'hono/utils/http-status'

/** What `auth()` puts on the request: see the core's `RequestAuth`. */
export type { LoginOptions, LogoutOptions, RequestAuth, SignedInAuth }

/** The variables `auth()` sets: `new Hono<AuthEnv>()` types `c.get('auth')` and `c.var.auth`. */
export type AuthEnv = { Variables: { auth: RequestAuth } }

/** The variables behind `requireAuth()`: the handlers after it see a signed-in `c.var.auth`. */
export type AuthenticatedEnv = { Variables: { auth: SignedInAuth } }

/** Hono middleware mounting `auth`'s routes and setting `c.var.auth`. */
export type AuthMiddleware = MiddlewareHandler<AuthEnv> & {
  /** the core configuration, for the core's functions */
  readonly auth: Auth
}

/** The core's answer as a Response, with the headers the app prepared (`c.header`) kept. */
function send(c: Context, response: AuthResponse): Response {
  return c.newResponse(response.body ?? null, response.status as StatusCode, response.headers)
}

/** What a response owes to the request's codeflow context: its cookies, and `Vary: Cookie`. */
function settleHeaders(headers: Headers, ctx: WebContext): void {
  writeCookieHeaders(
    ctx.cookies,
    (name, value) => headers.append(name, value),
    (name, value) => headers.set(name, value),
  )
  if (ctx.varies) headers.set('Vary', varyWithCookie(headers.get('Vary')))
}

function settle(config: Auth, c: Context, ctx: WebContext): void {
  // a cookie the core sets from now on (a refresh inside stream() or streamSSE()) is too late
  ctx.setCookie = () => reportLate(config)
  if (ctx.cookies.length === 0 && !ctx.varies) return
  // a protocol switch (a WebSocket upgrade, 101) carries its socket: never copied, nothing added
  if (c.res.status < 200) {
    if (ctx.cookies.length > 0) reportLate(config)
    return
  }
  try {
    settleHeaders(c.res.headers, ctx)
  } catch (error) {
    // immutable headers (Response.redirect, a fetch's response) refuse the first write: Hono's
    // setter puts a copy with headers of its own in place
    if (!(error instanceof TypeError)) throw error
    c.res = new Response(c.res.body, c.res)
    settleHeaders(c.res.headers, ctx)
  }
}

/** The signal that a changed session could not be set in this response (README). */
function reportLate(config: Auth): void {
  reportEvent(config, {
    level: 'warn',
    code: 'session_write_late',
    message:
      'the session changed after its response was under way (inside stream() or streamSSE(), or a WebSocket upgrade): its cookie is lost; call accessToken() before the response starts',
  })
}

/**
 * Where the core reads a form: the request as it is then (a body limit replaces `c.req.raw`),
 * or, when the app read the body first, what Hono kept of it.
 */
function bodyOf(c: Context): WebBody {
  return { request: () => c.req.raw, consumed: () => consumedBody(c) }
}

async function consumedBody(c: Context): Promise<URLSearchParams | string | undefined> {
  const cache = c.req.bodyCache
  if (cache.formData !== undefined) {
    const fields = new URLSearchParams()
    for (const [name, value] of await cache.formData) {
      if (typeof value === 'string') fields.append(name, value)
    }
    return fields
  }
  // Hono turns any body it kept into its text
  return Object.keys(cache).length > 0 ? c.req.text() : undefined
}

const OWN = Symbol('codeflow.hono.own')

/** An error `auth()` threw itself, before the app ran: its cookies are not on any response yet. */
type OwnError = AuthError & {
  readonly [OWN]: { readonly auth: Auth; readonly ctx: WebContext; readonly error: AuthError }
}

/**
 * A per-request view of an `AuthError` thrown by `auth()` itself (errors may be shared by
 * concurrent requests, so they are never changed). It remembers the request's context, for
 * `authErrorHandler` to add the cookies (the deletion of a used login transaction), and renders
 * itself for Hono's default error handler (its `getResponse`, as an `HTTPException`), so that a
 * failed callback is a 400 even without `authErrorHandler`.
 */
function ownError(config: Auth, ctx: WebContext, error: unknown): unknown {
  if (!(error instanceof AuthError)) return error
  const getResponse = () => {
    const response = handleError(config, ctx, error)
    const headers = new Headers(response.headers)
    settleHeaders(headers, ctx)
    return new Response(response.body ?? null, { status: response.status, headers })
  }
  return Object.create(error, {
    [OWN]: { value: { auth: config, ctx, error } },
    getResponse: { value: getResponse },
  }) as OwnError
}

/**
 * Mounts the login, callback and logout routes and sets `c.var.auth` on every request; the
 * cookies the core set during the request go on the app's response, whatever built it (a handler,
 * `app.onError`, `notFound`). Takes the options of `createAuth` (validated now: a bad option
 * throws at start-up) or an existing `Auth`. Errors go to `app.onError`; use `authErrorHandler()`
 * there to render them.
 */
export function auth(options: AuthOptions | Auth): AuthMiddleware {
  const config = toAuth(options)
  const middleware: MiddlewareHandler<AuthEnv> = async (c, next) => {
    // mounted twice on one request (an app and its sub-app): the first does everything
    if (attached(c)?.auth === config) return next()
    // the app's configured origin, not the Host the server built `c.req.url` from
    const ctx = attach(c, config, (origin) => createWebContext(c.req.raw, origin, bodyOf(c)))
      .ctx as WebContext
    let result: Awaited<ReturnType<typeof authenticate>>
    try {
      result = await authenticate(config, ctx)
    } catch (error) {
      throw ownError(config, ctx, error)
    }
    if (result.response) {
      c.res = send(c, result.response)
    } else {
      c.set('auth', result.auth)
      await next()
    }
    settle(config, c, ctx)
  }
  return Object.assign(middleware, { auth: config })
}

/**
 * Lets only signed-in requests through. Anonymous page navigations get a 302 to login (back to
 * this page afterwards), API calls a 401 JSON error with `WWW-Authenticate`; see `GuardOptions`.
 * The session is read again here, whatever ran before: `auth()` must be mounted first. The
 * handlers after it see a signed-in `c.var.auth` in their types:
 * `app.get('/me', requireAuth(), (c) => c.json(c.var.auth.user))`.
 */
export function requireAuth(options: GuardOptions = {}): MiddlewareHandler<AuthenticatedEnv> {
  return async (c, next) => {
    const entry = attached(c)
    if (!entry) throw new Error('requireAuth() needs auth() mounted before it')
    const result = await authorize(entry.auth, entry.ctx, options)
    if (result.response) return send(c, result.response)
    // auth() set it for the same session already, unless the session changed since
    if ((c.get('auth') as RequestAuth | undefined)?.session !== result.session) {
      c.set('auth', requestAuth(entry.auth, entry.ctx, result.session))
    }
    await next()
  }
}

/**
 * Starts a login from the app's own handler, as `/login` does, with this login's options:
 * `returnTo`, `authorizationParams` (`{ prompt: 'login' }`, `{ screen_hint: 'signup' }`, …),
 * `maxAge` and `acr` (checked in the new ID token). Resolves to the redirect to the provider;
 * rejects with codeflow's errors (for `authErrorHandler`).
 * `app.get('/signup', (c) => login(c, { authorizationParams: { screen_hint: 'signup' } }))`
 */
export async function login(c: Context, options?: LoginOptions): Promise<Response> {
  const entry = attached(c)
  if (!entry) throw new Error('login() needs auth() mounted before it')
  return send(c, await startLogin(entry.auth, entry.ctx, options))
}

/**
 * Logs out from the app's own handler, as `/logout` does (a GET from another site gets the
 * confirmation page; a POST must come from the app's origin), landing on `returnTo`.
 */
export async function logout(c: Context, options?: LogoutOptions): Promise<Response> {
  const entry = attached(c)
  if (!entry) throw new Error('logout() needs auth() mounted before it')
  return send(c, await handleLogout(entry.auth, entry.ctx, options))
}

/** What Hono does with an error when the app has no `onError`. */
const honoErrorHandler: ErrorHandler = (error, c) => {
  if ('getResponse' in error) {
    // as Hono's own: the headers the app set with c.header() stay
    const response = error.getResponse()
    return c.newResponse(response.body, response)
  }
  console.error(error)
  return c.text('Internal Server Error', 500)
}

/**
 * An error handler for `app.onError`: codeflow's errors as an HTML page for page navigations,
 * JSON otherwise, with the right status, never a stack trace. Other errors go to `fallback` (the
 * app's own handler; by default what Hono does without one):
 * `app.onError(authErrorHandler((error, c) => c.text('Sorry', 500)))`.
 */
export function authErrorHandler<E extends Env = Env>(
  fallback: ErrorHandler<E> = honoErrorHandler,
): ErrorHandler<E> {
  return (error, c) => {
    const entry = attached(c)
    if (!(error instanceof AuthError) || !entry) return fallback(error, c)
    const own = (error as Partial<OwnError>)[OWN]
    if (own === undefined) return send(c, handleError(entry.auth, entry.ctx, error))
    const response = send(c, handleError(own.auth, own.ctx, own.error))
    settleHeaders(response.headers, own.ctx)
    return response
  }
}

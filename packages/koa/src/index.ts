/**
 * @codeflow/koa: OpenID Connect login for Koa. A thin adapter: it builds the core's context from
 * `ctx.req`/`ctx.res`, and sends what the core answers. No protocol logic lives here.
 */
import {
  type Auth,
  AuthError,
  type AuthOptions,
  type AuthResponse,
  createAuth,
  createNodeContext,
  type GuardOptions,
  type GuardResult,
  getSessionNow,
  guardNow,
  handleAuthRouteNow,
  handleError,
  type NodeContext,
  type RequestAuth,
  requestAuth,
  type Session,
  type SetCookie,
} from '@codeflow/core'
import type { Context, Middleware, Next } from 'koa'

/** What `auth()` puts on the request: see the core's `RequestAuth`. */
export type { RequestAuth }

declare module 'koa' {
  interface DefaultState {
    /** set by `@codeflow/koa`'s `auth()` */
    auth?: RequestAuth
  }
}

interface Entry {
  readonly auth: Auth
  readonly http: NodeContext
  /** the entry of another codeflow instance that ran earlier on the same request, if any */
  readonly previous: Entry | undefined
}

// on Koa's context itself (not a WeakMap: an ephemeron per request slows the GC)
const CONTEXT = Symbol('codeflow.koa')

function entryOf(ctx: Context): Entry | undefined {
  return (ctx as Context & { [CONTEXT]?: Entry })[CONTEXT]
}

/**
 * Koa's default error handling removes every header already set, the Set-Cookie that deletes a
 * used login transaction or an ended session included, then sets the error's `headers`. The
 * error passed on is a per-request view of the original (errors may be shared by concurrent
 * requests, so they are never changed) whose `headers` add the cookies the core wrote.
 */
function withCookies(error: unknown, cookies: readonly SetCookie[]): unknown {
  if (cookies.length === 0 || !(error instanceof Error)) return error
  const headers: Record<string, string | string[]> = {}
  const setCookie: string[] = []
  for (const [name, value] of Object.entries((error as { headers?: object }).headers ?? {})) {
    if (name.toLowerCase() === 'set-cookie') setCookie.push(...[value].flat().map(String))
    else headers[name] = value
  }
  headers['Set-Cookie'] = [...setCookie, ...cookies.map((cookie) => cookie.header)]
  headers['Cache-Control'] = 'no-store'
  return Object.create(error, { headers: { value: headers, enumerable: true } })
}

function contextOf(auth: Auth, ctx: Context): NodeContext {
  let entry = entryOf(ctx)
  if (!entry || entry.auth !== auth) {
    const { origin } = auth.options
    // a body parser mounted before us has consumed the stream: its result is on ctx.request
    const parsedBody = () => (ctx.request as { body?: unknown }).body
    const http = createNodeContext(ctx.req, ctx.res, origin, ctx.originalUrl, parsedBody)
    entry = { auth, http, previous: entry }
    ;(ctx as Context & { [CONTEXT]?: Entry })[CONTEXT] = entry
    keepCookiesOnError(ctx)
  }
  return entry.http
}

const WRAPPED = Symbol('codeflow.koa.onerror')

/** What `ctx.onerror` renders: `error` with the cookies every codeflow instance wrote for `ctx`. */
function errorWithCookies(ctx: Context, error: unknown): unknown {
  let entry = entryOf(ctx)
  if (entry?.previous === undefined) return entry ? withCookies(error, entry.http.cookies) : error
  const cookies: SetCookie[] = []
  for (; entry; entry = entry.previous) cookies.unshift(...entry.http.cookies)
  return withCookies(error, cookies)
}

/**
 * Koa calls `ctx.onerror` for any error that no middleware caught: it is wrapped so that the
 * error it renders carries the cookies the core wrote (see `withCookies`). Once per app, on the
 * app's context prototype (`app.context`, Koa's place for extending every context): a new closure
 * assigned to every request's context made the heap grow several times over under load (measured
 * with `node bench/profile.mjs koa-codeflow`: ~150 MiB instead of ~32). A context not made from
 * `app.context`, or with an `onerror` of its own, gets its own wrapper.
 */
function keepCookiesOnError(ctx: Context): void {
  // a codeflow instance that ran earlier on this request wrapped it already (for every instance)
  if (entryOf(ctx)?.previous !== undefined) return
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
    const wrapper = function (this: Context, error: Error | null) {
      return onerror.call(this, errorWithCookies(this, error) as Error)
    }
    prototype.onerror = wrapper
    prototype[WRAPPED] = wrapper
    return
  }
  const onerror = ctx.onerror
  ctx.onerror = (error) => onerror.call(ctx, errorWithCookies(ctx, error) as Error)
}

function send(ctx: Context, response: AuthResponse): void {
  ctx.status = response.status
  ctx.set(response.headers)
  ctx.body = response.body ?? ''
}

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
  const config = 'provider' in options ? options : createAuth(options)
  // awaits nothing when the request is not for a route of ours and its session read needs no I/O
  const middleware: Middleware = (ctx, next) => {
    try {
      const http = contextOf(config, ctx)
      const route = handleAuthRouteNow(config, http)
      if (route) {
        return route.then((response) =>
          response
            ? send(ctx, response)
            : withSession(config, http, getSessionNow(config, http), ctx, next),
        )
      }
      return withSession(config, http, getSessionNow(config, http), ctx, next)
    } catch (error) {
      return Promise.reject(error)
    }
  }
  return Object.assign(middleware, { auth: config })
}

function withSession(
  auth: Auth,
  http: NodeContext,
  session: Session | undefined | Promise<Session | undefined>,
  ctx: Context,
  next: Next,
): Promise<unknown> {
  if (session instanceof Promise) {
    return session.then((found) => withSession(auth, http, found, ctx, next))
  }
  ctx.state.auth = requestAuth(auth, http, session)
  return next()
}

/**
 * Lets only signed-in requests through. Anonymous page navigations get a 302 to login (back to
 * this page afterwards), API calls a 401 JSON error with `WWW-Authenticate`; see `GuardOptions`.
 * The session is read again here, whatever ran before: `auth()` must be mounted first.
 */
export function requireAuth(options: GuardOptions = {}): Middleware {
  const pass = (ctx: Context, next: Next, result: GuardResult): Promise<unknown> | undefined => {
    if (!result.response) return next()
    send(ctx, result.response)
    return undefined
  }
  return (ctx, next) => {
    try {
      const entry = entryOf(ctx)
      if (!entry) throw new Error('requireAuth() needs auth() mounted before it')
      const result = guardNow(entry.auth, entry.http, options)
      if (result instanceof Promise) return result.then((found) => pass(ctx, next, found))
      return pass(ctx, next, result)
    } catch (error) {
      return Promise.reject(error)
    }
  }
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
      const entry = entryOf(ctx)
      if (!(error instanceof AuthError) || !entry || ctx.headerSent) throw error
      send(ctx, handleError(entry.auth, entry.http, error))
    }
  }
}

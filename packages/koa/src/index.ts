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
  getSession,
  guard,
  handleAuthRoute,
  handleError,
  type NodeContext,
  type RequestAuth,
  requestAuth,
  type SetCookie,
} from '@codeflow/core'
import type { Context, Middleware } from 'koa'

/** What `auth()` puts on the request: see the core's `RequestAuth`. */
export type { RequestAuth }

declare module 'koa' {
  interface DefaultState {
    /** set by `@codeflow/koa`'s `auth()` */
    auth?: RequestAuth
  }
}

const contexts = new WeakMap<Context, { auth: Auth; http: NodeContext }>()

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
  let entry = contexts.get(ctx)
  if (!entry || entry.auth !== auth) {
    const { origin } = auth.options
    // a body parser mounted before us has consumed the stream: its result is on ctx.request
    const parsedBody = () => (ctx.request as { body?: unknown }).body
    const http = createNodeContext(ctx.req, ctx.res, origin, ctx.originalUrl, parsedBody)
    entry = { auth, http }
    contexts.set(ctx, entry)
    // Koa calls `ctx.onerror` for any error that no middleware caught
    const onerror = ctx.onerror
    ctx.onerror = (error) => onerror.call(ctx, withCookies(error, http.cookies) as Error)
  }
  return entry.http
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
  const middleware: Middleware = async (ctx, next) => {
    const http = contextOf(config, ctx)
    const response = await handleAuthRoute(config, http)
    if (response) return send(ctx, response)
    const session = await getSession(config, http)
    ctx.state.auth = requestAuth(config, http, session)
    await next()
  }
  return Object.assign(middleware, { auth: config })
}

/**
 * Lets only signed-in requests through. Anonymous page navigations get a 302 to login (back to
 * this page afterwards), API calls a 401 JSON error with `WWW-Authenticate`; see `GuardOptions`.
 * The session is read again here, whatever ran before: `auth()` must be mounted first.
 */
export function requireAuth(options: GuardOptions = {}): Middleware {
  return async (ctx, next) => {
    const entry = contexts.get(ctx)
    if (!entry) throw new Error('requireAuth() needs auth() mounted before it')
    const result = await guard(entry.auth, entry.http, options)
    if (result.response) return send(ctx, result.response)
    await next()
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
      const entry = contexts.get(ctx)
      if (!(error instanceof AuthError) || !entry || ctx.headerSent) throw error
      send(ctx, handleError(entry.auth, entry.http, error))
    }
  }
}

/**
 * @codeflow/next: OpenID Connect login for Next.js 15 and 16 (App Router). A thin adapter over the
 * core's Web context: the proxy and the route handlers turn a `Request` into the core's context and
 * its answer into a `Response`; Server Components, Route Handlers and Server Actions reach the
 * session through `next/headers`. No protocol logic lives here.
 */
import {
  type AccessToken,
  type AccessTokenOptions,
  type Auth,
  AuthError,
  type AuthOptions,
  ConfigurationError,
  ForbiddenError,
  fetchWithToken,
  type GuardOptions,
  getAccessToken,
  getSession,
  type HttpContext,
  NotFoundError,
  type Session,
  type TokenFetchOptions,
  type UnauthenticatedMode,
} from '@codeflow/core'
import {
  type AuthResponse,
  authorize,
  createWebContext,
  errorResponse,
  forwardedCookieHeader,
  handleAuthRoute,
  handleError,
  handleLogout,
  homeUrl,
  type LoginOptions,
  type LogoutOptions,
  loginUrl,
  reportEvent,
  type SetCookie,
  silentLogin,
  startLogin,
  toAuth,
  varyWithCookie,
  type WebContext,
  writeCookieHeaders,
} from '@codeflow/core/adapter'
import { cookies, headers } from 'next/headers.js'
import { NextResponse } from 'next/server.js'

/**
 * A path the proxy protects with its own answer to anonymous requests, and optionally the claims
 * and the sign-in it needs (`GuardOptions`: 403 for claims that do not match, a step-up login for
 * an old or weaker sign-in).
 */
export interface ProtectedPath extends Omit<GuardOptions, 'unauthenticated'> {
  /** a string matches that path and every path below it; a RegExp is tested against the path */
  readonly path: string | RegExp
  /**
   * how the proxy answers an anonymous request to it: `redirect` for pages (whatever the request's
   * Accept header), `json` for APIs, `auto` to tell them apart per request; default the
   * `unauthenticated` option's
   */
  readonly unauthenticated?: UnauthenticatedMode
}

/** What the Next.js adapter adds to the core's options. */
export interface NextOptions {
  /**
   * paths the proxy lets through only with a session: a string matches that path and every path
   * below it, a RegExp is tested against the path, a `ProtectedPath` pins how anonymous requests
   * are answered there; default none. Pages and handlers still check the session themselves
   * (`requireAuth`): the proxy alone is never the authorization
   */
  protect?: ReadonlyArray<string | RegExp | ProtectedPath>
  /**
   * how the proxy answers an anonymous request to a protected path given as a string or RegExp;
   * default `auto` (a redirect for a browser page navigation, 401 JSON otherwise)
   */
  unauthenticated?: UnauthenticatedMode
  /**
   * the proxy refreshes an access token that expires within this many seconds before the page
   * renders, so that Server Components (which cannot set cookies) rarely need to; `false` turns it
   * off; default 60, the margin of `getAccessToken`
   */
  refreshAhead?: number | false
}

/** A Next.js route handler (`export const GET = …` in `app/…/route.ts`). */
export type RouteHandler<Context = unknown> = (
  request: Request,
  context: Context,
) => Promise<Response>

/** What `requireAuth(handler)` passes to the handler it protects. */
export interface AuthenticatedRoute<Context = unknown> {
  /** the request's session */
  readonly session: Session
  /** a valid access token, refreshed when needed; the new session is set on the response */
  accessToken(options?: AccessTokenOptions): Promise<AccessToken>
  /** `fetch` with the session's access token (see `Codeflow.fetch`) */
  fetch(
    input: string | URL | Request,
    init?: RequestInit,
    options?: TokenFetchOptions,
  ): Promise<Response>
  /** Next.js's second route handler argument (`params`) */
  readonly context: Context
}

/** Options of `requireAuth()` in a page, layout or Server Action. */
export interface PageAuthOptions
  extends Pick<GuardOptions, 'claims' | 'maxAge' | 'acr' | 'provider'> {
  /** where the login returns to (Next.js does not tell a page its path); default the home page */
  returnTo?: string
}

/** The adapter for one app, made by `createCodeflow`. */
export interface Codeflow {
  /** the core configuration, for the core's own functions */
  readonly auth: Auth
  /**
   * For `proxy.ts` (`middleware.ts` on Next.js 15): serves the login, callback and logout routes,
   * guards the `protect` paths, refreshes an expiring access token, and lets the rest through
   */
  proxy(request: Request): Promise<Response>
  /**
   * Reads and checks the configuration now (the function form is called). Call it from
   * `instrumentation.ts`, so that a misconfigured server stops at start-up instead of answering
   * 500 at the first request:
   * `export async function register() { if (process.env.NEXT_RUNTIME === 'nodejs') (await import('./lib/codeflow')).codeflow.validate() }`.
   * A bad option is printed in one line naming it, then the process exits with code 1 (Next.js
   * itself would log a thrown error and serve anyway); with `{ exit: false }` the
   * `ConfigurationError` is thrown instead. Nothing is fetched: the provider may be down while
   * the app starts.
   */
  validate(options?: { exit?: boolean }): Auth
  /** The same routes as route handlers: `export const { GET, POST } = codeflow.handlers` */
  readonly handlers: { readonly GET: RouteHandler; readonly POST: RouteHandler }
  /**
   * The session in a Server Component, Route Handler or Server Action; or of `request`, where a
   * change to the session (rolling activity) cannot be set and is reported like a Server
   * Component's: behind the proxy, which updates the session first, there is none
   */
  getSession(request?: Request): Promise<Session | undefined>
  /** A valid access token in a Server Component, Route Handler or Server Action */
  getAccessToken(options?: AccessTokenOptions): Promise<AccessToken>
  /**
   * In a Server Component, Route Handler or Server Action: `fetch` with the session's access
   * token (`Authorization: Bearer`), refreshed first when it is about to expire, and once more
   * after a 401 `invalid_token`. Throws `UnauthenticatedError` (401) when anonymous,
   * `ResourceError` (502, 504 after `timeout`) when the API cannot be reached; the API's own
   * answers are returned as they are
   */
  fetch(
    input: string | URL | Request,
    init?: RequestInit,
    options?: TokenFetchOptions,
  ): Promise<Response>
  /**
   * In a Server Action or a Route Handler: starts a login, as `/login` does, with this login's
   * options (`returnTo`, `authorizationParams`, `maxAge`, `acr`): sets the login's cookie and
   * redirects to the provider (Next.js's `redirect()`, so it does not return). A Server Component
   * cannot set cookies: there, link to `/login` instead (this throws a `TypeError` saying so).
   */
  login(options?: LoginOptions): Promise<never>
  /**
   * In a Server Action or a Route Handler: logs out, as `/logout` does, landing on `returnTo`;
   * redirects (does not return). Next.js checks a Server Action's origin itself.
   */
  logout(options?: LogoutOptions): Promise<never>
  /** In a page, layout or Server Action: the session, or a redirect to login */
  requireAuth(options?: PageAuthOptions): Promise<Session>
  /** Wraps a route handler: anonymous requests get 401 JSON (see `GuardOptions`) */
  requireAuth<Context = unknown>(
    handler: (request: Request, route: AuthenticatedRoute<Context>) => Response | Promise<Response>,
    options?: GuardOptions,
  ): RouteHandler<Context>
}

function setCookies(target: Headers, written: readonly SetCookie[]): void {
  writeCookieHeaders(
    written,
    (name, value) => target.append(name, value),
    (name, value) => target.set(name, value),
  )
}

/** What a response owes to the request's codeflow context: its cookies, and `Vary: Cookie`. */
function settle(target: Headers, ctx: WebContext): void {
  setCookies(target, ctx.cookies)
  if (ctx.varies) target.set('vary', varyWithCookie(target.get('vary')))
}

function send(response: AuthResponse, ctx: WebContext): Response {
  const sent = new Headers(response.headers)
  settle(sent, ctx)
  return new Response(response.body ?? null, { status: response.status, headers: sent })
}

function withCookies(response: Response, ctx: WebContext): Response {
  if (ctx.cookies.length === 0 && !ctx.varies) return response
  // the handler's headers may be immutable (Response.redirect): copy them
  const copy = new Response(response.body, response)
  settle(copy.headers, ctx)
  return copy
}

/**
 * The core's context for the request Next.js is rendering (`next/headers`): the app's home as its
 * URL (Next.js does not tell a page its path), its headers, and cookies set through `jar`;
 * `refused` is told when Next.js refuses to set one (a Server Component).
 */
function headersContext(
  config: Auth,
  incoming: Headers,
  jar: Awaited<ReturnType<typeof cookies>>,
  method: 'GET' | 'POST',
  refused: (error: unknown) => void,
): HttpContext {
  return {
    url: new URL(homeUrl(config)),
    method,
    headers: new Headers(incoming),
    readForm: async () => new URLSearchParams(),
    setCookie({ name, value, options: attributes }) {
      try {
        jar.set(name, value, attributes)
      } catch (error) {
        refused(error)
      }
    },
  }
}

/** The signal that a changed session could not be set in this response (README). */
function reportDeferred(config: Auth, error?: unknown): void {
  reportEvent(config, {
    level: 'warn',
    code: 'session_write_deferred',
    message:
      'the session changed where cookies cannot be set (a Server Component); the next request ' +
      'that can set them writes it: run the proxy on this path',
    error,
  })
}

/** `object` without its members whose value is `undefined`. */
function defined<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(object).filter(([, value]) => value !== undefined),
  ) as Partial<T>
}

/**
 * The guard of a protected path (its mode for anonymous requests, its claims and sign-in rules),
 * or `undefined` for a path not protected;
 * validated now, so that a bad `protect` fails at start-up.
 */
function matcher(
  entries: ReadonlyArray<string | RegExp | ProtectedPath>,
  fallback: UnauthenticatedMode,
): (path: string) => GuardOptions | undefined {
  const rules = entries.map((entry) => {
    const {
      path,
      unauthenticated = fallback,
      ...rest
    } = typeof entry === 'string' || entry instanceof RegExp
      ? ({ path: entry } as ProtectedPath)
      : entry
    if (typeof path === 'string' ? !path.startsWith('/') : !(path instanceof RegExp)) {
      throw new ConfigurationError('protect', 'must hold paths starting with "/" or RegExps')
    }
    if (!['auto', 'redirect', 'json'].includes(unauthenticated)) {
      throw new ConfigurationError(
        'protect',
        'must pin "unauthenticated" to auto, redirect or json',
      )
    }
    const { claims, maxAge, acr } = rest
    return { path, options: { unauthenticated, ...defined({ claims, maxAge, acr }) } }
  })
  return (path) => {
    for (const rule of rules) {
      const pattern = rule.path
      const matches =
        typeof pattern === 'string'
          ? path === pattern || path.startsWith(pattern.endsWith('/') ? pattern : `${pattern}/`)
          : new RegExp(pattern.source, pattern.flags).test(path)
      if (matches) return rule.options
    }
    return undefined
  }
}

/**
 * The Next.js adapter for one app. Takes the options of `createAuth`, an existing `Auth`, or a
 * function returning either (called at the first request, so that `next build` does not need the
 * runtime environment); a bad option throws a `ConfigurationError` naming it.
 */
export function createCodeflow(
  options: AuthOptions | Auth | (() => AuthOptions | Auth),
  nextOptions: NextOptions = {},
): Codeflow {
  let configured: Auth | undefined
  const auth = (): Auth => {
    if (configured) return configured
    configured = toAuth(typeof options === 'function' ? options() : options)
    return configured
  }
  const protection = matcher(nextOptions.protect ?? [], nextOptions.unauthenticated ?? 'auto')
  let misconfiguration: string | undefined
  /**
   * The configuration for a request the adapter answers itself, or, when it is invalid, the
   * response: a plain 500 page (never a stack trace), and the option's name in the server's log,
   * once per distinct fault (`validate()` in instrumentation.ts reports it at start-up instead).
   */
  function configFor(ctx: WebContext): Auth | Response {
    try {
      return auth()
    } catch (error) {
      if (!(error instanceof ConfigurationError)) throw error
      if (misconfiguration !== error.message) {
        misconfiguration = error.message
        console.error(`codeflow: ${error.message} [${error.code}]`)
      }
      return send(errorResponse(ctx, error), ctx)
    }
  }
  const contexts = new WeakMap<object, HttpContext>()

  /**
   * The configuration and the context of the current request in a Server Component, Route Handler
   * or Server Action. The request's headers are asked for before the configuration is read: while
   * `next build` prerenders, that call marks the page dynamic and ends its prerendering, so the
   * build needs none of the runtime configuration (secrets, issuer).
   */
  async function requestContext(): Promise<{ config: Auth; ctx: HttpContext }> {
    const [incoming, jar] = await Promise.all([headers(), cookies()])
    const config = auth()
    let ctx = contexts.get(incoming)
    if (ctx) return { config, ctx }
    let deferred = false
    ctx = headersContext(config, incoming, jar, 'GET', (error) => {
      // a Server Component cannot set cookies: the core remembers a refreshed session, and the
      // next request that can write (the proxy, a Route Handler, a Server Action) does
      if (!deferred) reportDeferred(config, error)
      deferred = true
    })
    contexts.set(incoming, ctx)
    return { config, ctx }
  }

  async function serveRoute(request: Request): Promise<Response> {
    const ctx = createWebContext(request)
    const config = configFor(ctx)
    if (config instanceof Response) return config
    try {
      const routed = await handleAuthRoute(config, ctx)
      if (routed) return send(routed, ctx)
      throw new NotFoundError()
    } catch (error) {
      return send(handleError(config, ctx, error), ctx)
    }
  }

  /**
   * Brings the session up to date before the page renders, where cookies can still be set:
   * reading it records activity (rolling sessions) and reseals a retired password; an access
   * token about to expire is refreshed.
   */
  async function updateSession(config: Auth, ctx: HttpContext): Promise<void> {
    const session = await getSession(config, ctx)
    const margin = nextOptions.refreshAhead ?? 60
    if (margin === false || !session?.refreshToken) return
    try {
      await getAccessToken(config, ctx, { refreshMargin: margin })
    } catch (error) {
      // an ended session is anonymous from here on; a provider fault is left to the page's own
      // getAccessToken, which reports it to the user
      if (!(error instanceof AuthError)) throw error
    }
  }

  async function proxy(request: Request): Promise<Response> {
    const ctx = createWebContext(request)
    const config = configFor(ctx)
    if (config instanceof Response) return config
    try {
      const routed = await handleAuthRoute(config, ctx)
      if (routed) return send(routed, ctx)
      // attemptSilentLogin: a visitor's first page of the browser session tries prompt=none
      // (before protect, as the other adapters' auth() does: a protected page may then need no
      // login page)
      const silent = await silentLogin(config, ctx)
      if (silent) return send(silent, ctx)
      const guarded = protection(ctx.url.pathname)
      if (guarded !== undefined) {
        const result = await authorize(config, ctx, guarded)
        if (result.response) return send(result.response, ctx)
      }
      await updateSession(config, ctx)
    } catch (error) {
      return send(handleError(config, ctx, error), ctx)
    }
    if (ctx.cookies.length === 0) {
      const response = NextResponse.next()
      settle(response.headers, ctx)
      return response
    }
    // the page behind the proxy reads the updated session, and the browser stores it
    const forwarded = new Headers(request.headers)
    forwarded.set('cookie', forwardedCookieHeader(ctx))
    const response = NextResponse.next({ request: { headers: forwarded } })
    settle(response.headers, ctx)
    return response
  }

  function protectRoute<Context>(
    handler: (request: Request, route: AuthenticatedRoute<Context>) => Response | Promise<Response>,
    options: GuardOptions = {},
  ): RouteHandler<Context> {
    return async (request, context) => {
      const ctx = createWebContext(request)
      const config = configFor(ctx)
      if (config instanceof Response) return config
      try {
        const result = await authorize(config, ctx, { unauthenticated: 'json', ...options })
        if (result.response) return send(result.response, ctx)
        const accessToken = (tokenOptions?: AccessTokenOptions) =>
          getAccessToken(config, ctx, tokenOptions)
        const fetch = (
          input: string | URL | Request,
          init?: RequestInit,
          fetchOptions?: TokenFetchOptions,
        ) => fetchWithToken(config, ctx, input, init, fetchOptions)
        const session = result.session
        return withCookies(await handler(request, { session, accessToken, fetch, context }), ctx)
      } catch (error) {
        if (!(error instanceof AuthError)) throw error
        return send(handleError(config, ctx, error), ctx)
      }
    }
  }

  /** Answers a route of codeflow's from a Server Action or Route Handler: its cookies, then a redirect. */
  async function redirectThrough(
    route: (config: Auth, ctx: HttpContext) => Promise<AuthResponse>,
    what: 'login' | 'logout',
  ): Promise<never> {
    const [incoming, jar] = await Promise.all([headers(), cookies()])
    const config = auth()
    // the login route is a GET; a logout is a POST, its Origin the Server Action's own (which
    // Next.js checks too), else Sec-Fetch-Site
    const ctx = headersContext(
      config,
      incoming,
      jar,
      what === 'login' ? 'GET' : 'POST',
      (cause) => {
        throw new TypeError(
          `codeflow.${what}() sets a cookie, which a Server Component cannot: call it from a Server Action or a Route Handler, or link to the route`,
          { cause },
        )
      },
    )
    const response = await route(config, ctx)
    const location = response.headers.Location
    const { redirect } = await import('next/navigation.js')
    if (location === undefined) {
      // a page of codeflow's own (the logout confirmation): only a route can answer it
      throw new TypeError(`codeflow.${what}() was answered ${response.status} without a redirect`)
    }
    return redirect(location)
  }

  async function requirePageAuth(options: PageAuthOptions = {}): Promise<Session> {
    const { config, ctx } = await requestContext()
    const session = await getSession(config, ctx)
    const home = homeUrl(config)
    const target = new URL(options.returnTo ?? home, home)
    const back = target.pathname + target.search
    // imported here: bundled into a route handler, next/navigation's client half fails to load
    const navigation = await import('next/navigation.js')
    const { claims, maxAge, acr, provider } = options
    if (!session) return navigation.redirect(loginUrl(config, back, { provider }))
    if (claims === undefined && maxAge === undefined && acr === undefined && !provider) {
      return session
    }
    // the core's guard, as a JSON request: its 403 and 401 say what is wrong without a login
    const verdict = await authorize(config, ctx, {
      unauthenticated: 'json',
      ...(claims === undefined ? {} : { claims }),
      ...(maxAge === undefined ? {} : { maxAge }),
      ...(acr === undefined ? {} : { acr }),
      ...(provider === undefined ? {} : { provider }),
    })
    if (verdict.session) return verdict.session
    if (verdict.response?.status === 403) {
      // Next.js's forbidden() (15.1 and later): needs experimental.authInterrupts, and says so
      // when it is off; before 15.1, codeflow's own 403 error
      const forbidden = (navigation as { forbidden?: () => never }).forbidden
      if (forbidden) return forbidden()
      throw new ForbiddenError('you are signed in, but not allowed here', 'insufficient_claims')
    }
    // a step-up: /login asks for max_age and acr_values, and checks them in the new ID token
    return navigation.redirect(
      loginUrl(config, back, {
        maxAge,
        acr: acr === undefined ? undefined : [acr].flat(),
        provider: session.provider,
      }),
    )
  }

  function requireAuth(...args: unknown[]): unknown {
    const [first, second] = args
    if (typeof first === 'function') {
      return protectRoute(first as Parameters<typeof protectRoute>[0], second as GuardOptions)
    }
    return requirePageAuth(first as PageAuthOptions | undefined)
  }

  return {
    get auth() {
      return auth()
    },
    proxy,
    handlers: { GET: serveRoute, POST: serveRoute },
    async getSession(request) {
      if (!request) {
        const { config, ctx } = await requestContext()
        return getSession(config, ctx)
      }
      const config = auth()
      const ctx = createWebContext(request)
      const session = await getSession(config, ctx)
      // this call has no response to set cookies on (requireAuth(handler) has)
      if (ctx.cookies.length > 0) reportDeferred(config)
      return session
    },
    async getAccessToken(tokenOptions) {
      const { config, ctx } = await requestContext()
      return getAccessToken(config, ctx, tokenOptions)
    },
    async fetch(input, init, fetchOptions) {
      const { config, ctx } = await requestContext()
      return fetchWithToken(config, ctx, input, init, fetchOptions)
    },
    validate(validateOptions = {}) {
      try {
        return auth()
      } catch (error) {
        if (!(error instanceof ConfigurationError)) throw error
        console.error(`codeflow: ${error.message} [${error.code}]`)
        // Next.js logs an error thrown by instrumentation's register() and serves anyway; an
        // edge runtime has no process to end (its process.exit throws)
        const host = (globalThis as { process?: { exit?: (code: number) => never } }).process
        if (validateOptions.exit !== false && process.env.NEXT_RUNTIME !== 'edge' && host?.exit) {
          host.exit(1)
        }
        throw error
      }
    },
    requireAuth: requireAuth as Codeflow['requireAuth'],
    login: (loginOptions) =>
      redirectThrough((config, ctx) => startLogin(config, ctx, loginOptions), 'login'),
    logout: (logoutOptions) =>
      redirectThrough((config, ctx) => handleLogout(config, ctx, logoutOptions), 'logout'),
  }
}

export type {
  AccessToken,
  AccessTokenOptions,
  Auth,
  AuthOptions,
  GuardOptions,
  Session,
  TokenFetchOptions,
  UnauthenticatedMode,
  UserClaims,
} from '@codeflow/core'
export type { LoginOptions, LogoutOptions } from '@codeflow/core/adapter'

/**
 * @codeflow/fastify: OpenID Connect login for Fastify 5. A thin adapter on the core's kit: a plugin
 * whose `onRequest` hook builds the core's context from the request and the reply, and sends what
 * the core answers through the reply.
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
  authRoutePaths,
  createNodeContext,
  type GuardResult,
  handleError,
  handleLogout,
  type LoginOptions,
  type LogoutOptions,
  type MaybePromise,
  type ResponseHeaders,
  requestAuth,
  startLogin,
  step,
  toAuth,
  varyWithCookie,
} from '@codeflow/core/adapter'
import type {
  FastifyError,
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  preHandlerHookHandler,
  RouteGenericInterface,
} from 'fastify'

/** What the plugin puts on the request: see the core's `RequestAuth`. */
export type { LoginOptions, LogoutOptions, RequestAuth, SignedInAuth }

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * set by `@codeflow/fastify` on every request of the instance it is registered on, in its
     * `onRequest` hook: the route's own hooks and handler always see it
     */
    auth: RequestAuth
  }
}

/** A request behind `requireAuth(handler)`: its `auth` is signed in. */
export type AuthenticatedRequest<
  RouteGeneric extends RouteGenericInterface = RouteGenericInterface,
> = FastifyRequest<RouteGeneric> & { auth: SignedInAuth }

/** A route handler behind `requireAuth(handler)`. */
export type AuthenticatedHandler<
  RouteGeneric extends RouteGenericInterface = RouteGenericInterface,
> = (
  this: FastifyInstance,
  request: AuthenticatedRequest<RouteGeneric>,
  reply: FastifyReply<RouteGeneric>,
) => unknown

/** What `requireAuth(handler)` returns: the route's handler. */
export type AuthenticatedRouteHandler<
  RouteGeneric extends RouteGenericInterface = RouteGenericInterface,
> = (
  this: FastifyInstance,
  request: FastifyRequest<RouteGeneric>,
  reply: FastifyReply<RouteGeneric>,
) => unknown

/**
 * The reply's own headers, where the core writes its cookies: Fastify sends them over those set
 * on `reply.raw`, so a `Set-Cookie` the app sets through `reply.header()` would replace codeflow's
 * written on the raw response; `reply.header()` appends a `Set-Cookie` to the ones before instead.
 */
class ReplyHeaders implements ResponseHeaders {
  readonly #reply: FastifyReply
  /** the `Cache-Control` the core set (`no-store` with its cookies), for `onSend` to keep */
  cacheControl: string | undefined
  /** whether the core read the session: the answer must vary on `Cookie` */
  varies = false
  constructor(reply: FastifyReply) {
    this.#reply = reply
  }
  get headersSent(): boolean {
    return this.#reply.raw.headersSent
  }
  getHeader(name: string) {
    return this.#reply.getHeader(name)
  }
  setHeader(name: string, value: string): void {
    const lower = name.toLowerCase()
    if (lower === 'cache-control') this.cacheControl = value
    else if (lower === 'vary') this.varies = true
    this.#reply.header(name, value)
  }
  // the core appends Set-Cookie only, which reply.header() appends
  appendHeader(name: string, value: string): void {
    this.#reply.header(name, value)
  }
}

const HEADERS = Symbol('codeflow.fastify.headers')

type WithHeaders = FastifyRequest & { [HEADERS]?: ReplyHeaders }

function contextOf(config: Auth, request: FastifyRequest, reply: FastifyReply) {
  return attach(request, config, (origin) => {
    const headers = new ReplyHeaders(reply)
    ;(request as WithHeaders)[HEADERS] = headers
    // a body parser has consumed the stream only if the app calls login() or logout() itself
    return createNodeContext(request.raw, headers, origin, request.originalUrl, bodyOf(request))
  }).ctx
}

function bodyOf(request: FastifyRequest): () => unknown {
  return () => request.body
}

/**
 * What codeflow's headers need from the answer, whatever the route set after the hook: with
 * codeflow's cookies, its `Cache-Control` (`no-store`: a shared cache must not keep a session),
 * and `Vary: Cookie` when the session was read.
 */
function keepHeaders(request: FastifyRequest, reply: FastifyReply): void {
  const headers = (request as WithHeaders)[HEADERS]
  if (headers === undefined) return
  const { cacheControl } = headers
  if (cacheControl !== undefined && reply.getHeader('cache-control') !== cacheControl) {
    reply.header('cache-control', cacheControl)
  }
  if (headers.varies) {
    const vary = reply.getHeader('vary')
    const value = Array.isArray(vary) ? vary.join(', ') : vary?.toString()
    const withCookie = varyWithCookie(value)
    if (withCookie !== value) reply.header('vary', withCookie)
  }
}

/** A falsy error would tell Fastify to go on: a failed step must never let a request through. */
function errorOf(error: unknown): FastifyError {
  return (error || new Error('codeflow: a step failed without an error')) as FastifyError
}

function send(reply: FastifyReply, response: AuthResponse): FastifyReply {
  return reply.code(response.status).headers(response.headers).send(response.body)
}

/** What a rejected step after I/O becomes: Fastify's error handling, unless it answered already. */
function failed(reply: FastifyReply, error: unknown): void {
  if (reply.sent)
    reply.log.error({ err: error }, 'codeflow: a step failed after the reply was sent')
  else reply.send(errorOf(error))
}

function authenticated(
  request: FastifyRequest,
  reply: FastifyReply,
  next: HookHandlerDoneFunction,
  result: Authenticated,
): void {
  // a hook that answers does not call next: Fastify runs no route for this request
  if (result.response) {
    // the hooks after it (onSend, onResponse, the error handler) see the request anonymous
    setAnonymous(request)
    send(reply, result.response)
    return
  }
  request.auth = result.auth
  next()
}

/** An anonymous `request.auth`, for the requests codeflow answers itself or fails. */
function setAnonymous(request: FastifyRequest): void {
  const entry = attached(request)
  if (entry) request.auth = requestAuth(entry.auth, entry.ctx, undefined)
}

/** The hook's failure, after `request.auth` is set: the error handler may read it. */
function hookFailed(request: FastifyRequest, next: HookHandlerDoneFunction, error: unknown): void {
  setAnonymous(request)
  next(errorOf(error))
}

/** What Fastify's own options to `register` would do here, which this plugin cannot honour. */
const REGISTER_OPTIONS = ['prefix'] as const

/**
 * The plugin: serves the login, callback and logout routes (all of the core's route table) and
 * sets `request.auth` on every request, in an `onRequest` hook, so before Fastify parses a body
 * (the core reads its own forms). `app.register(codeflow, options)` takes the options of
 * `createAuth` (checked when the plugin loads: a bad option fails `ready()` and `listen()`) or an
 * existing `Auth`. Not encapsulated: the hook and the decoration reach the routes of the instance
 * it is registered on. Errors go to Fastify's error handling; `authErrorHandler()` renders them.
 */
export const codeflow: FastifyPluginCallback<AuthOptions | Auth> = (fastify, options, done) => {
  let config: Auth
  try {
    for (const name of REGISTER_OPTIONS) {
      if (name in options) {
        throw new TypeError(
          `@codeflow/fastify: the "${name}" register option does not move codeflow's routes: set their paths with the "routes" option (or the path of "baseUrl")`,
        )
      }
    }
    config = toAuth(options)
    routesOf(fastify, config)
  } catch (error) {
    done(error as Error)
    return
  }
  // declared up front, as Fastify wants (a stable shape); null only before the hook has run. A
  // second codeflow instance on the same server shares it
  if (!fastify.hasRequestDecorator('auth')) fastify.decorateRequest('auth', null as never)
  fastify.addHook('onRequest', (request, reply, next) => {
    // what `step` does, written out: no closures made per request on the hot path
    let result: MaybePromise<Authenticated>
    try {
      result = authenticate(config, contextOf(config, request, reply))
    } catch (error) {
      hookFailed(request, next, error)
      return
    }
    if (!(result instanceof Promise)) return authenticated(request, reply, next, result)
    result
      .then(
        (value) => authenticated(request, reply, next, value),
        (error: unknown) => hookFailed(request, next, error),
      )
      .catch((error: unknown) => failed(reply, error))
  })
  fastify.addHook('onSend', (request, reply, payload, next) => {
    keepHeaders(request, reply)
    next(null, payload)
  })
  done()
}

/**
 * codeflow's paths as routes of this instance, all methods: the hook answers them (a method a
 * route does not take is its 405), and Fastify knows them, in this instance's context (its hooks;
 * not its 404 handler's) and under its prefix. A route the app declares at one of them is a
 * clash Fastify reports at start-up.
 */
function routesOf(fastify: FastifyInstance, config: Auth): void {
  const { prefix } = fastify
  for (const path of authRoutePaths(config)) {
    if (!path.startsWith(prefix) || (path.length > prefix.length && path[prefix.length] !== '/')) {
      throw new Error(
        `@codeflow/fastify: codeflow's route ${path} is outside the prefix ${prefix} of the instance the plugin is registered on: register it where its routes are reached (the root instance), or set "routes" under ${prefix}`,
      )
    }
    // reached only if the hook let the request through, which it does not at these paths
    fastify.all(path.slice(prefix.length) || '/', (_request, reply) => reply.callNotFound())
  }
}

// what fastify-plugin sets: no encapsulation, a name in errors and logs, the Fastify major it needs
Object.assign(codeflow, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@codeflow/fastify',
  [Symbol.for('plugin-meta')]: { name: '@codeflow/fastify', fastify: '5.x' },
})

export default codeflow

function authorized(
  request: FastifyRequest,
  entry: Attached,
  result: GuardResult & { response?: undefined },
): void {
  // the plugin set it for the same session already, unless the session changed since
  if (request.auth?.session !== result.session) {
    request.auth = requestAuth(entry.auth, entry.ctx, result.session)
  }
}

function entryOf(request: FastifyRequest, name: string): Attached {
  const entry = attached(request)
  if (!entry) throw new Error(`${name} needs the codeflow plugin registered on this instance`)
  return entry
}

/**
 * Lets only signed-in requests through. Anonymous page navigations get a 302 to login (back to
 * this page afterwards), API calls a 401 JSON error with `WWW-Authenticate`; see `GuardOptions`.
 * The session is read again here, whatever ran before. As a `preHandler`:
 * `app.get('/me', { preHandler: requireAuth() }, (request) => request.auth.user)`.
 *
 * As `requireAuth(handler, options)` it wraps the route's handler, which then sees a signed-in
 * `request.auth` in its types (no `!` or `?.`): `app.get('/me', requireAuth((request) => …))`.
 */
export function requireAuth(options?: GuardOptions): preHandlerHookHandler
export function requireAuth<RouteGeneric extends RouteGenericInterface = RouteGenericInterface>(
  handler: AuthenticatedHandler<RouteGeneric>,
  options?: GuardOptions,
): AuthenticatedRouteHandler<RouteGeneric>
export function requireAuth(
  first?: GuardOptions | AuthenticatedHandler,
  second?: GuardOptions,
): preHandlerHookHandler | AuthenticatedRouteHandler {
  if (typeof first === 'function') return guardedHandler(first, second ?? {})
  const options = first ?? {}
  const passed = (
    request: FastifyRequest,
    reply: FastifyReply,
    next: HookHandlerDoneFunction,
    entry: Attached,
    result: GuardResult,
  ): void => {
    if (result.response) {
      send(reply, result.response)
      return
    }
    authorized(request, entry, result)
    next()
  }
  // what `step` does, written out: no closures made per request on the hot path
  return function guard(request, reply, next) {
    let entry: Attached
    let result: MaybePromise<GuardResult>
    try {
      entry = entryOf(request, 'requireAuth()')
      result = authorize(entry.auth, entry.ctx, options)
    } catch (error) {
      next(errorOf(error))
      return
    }
    if (!(result instanceof Promise)) return passed(request, reply, next, entry, result)
    result
      .then(
        (value) => passed(request, reply, next, entry, value),
        (error: unknown) => next(errorOf(error)),
      )
      .catch((error: unknown) => failed(reply, error))
  }
}

/** A throw or a rejection of the guard is the route's error, for Fastify's error handling. */
const rethrow = (error: unknown): never => {
  throw errorOf(error)
}

function guardedHandler(
  handler: AuthenticatedHandler,
  options: GuardOptions,
): AuthenticatedRouteHandler {
  return function guarded(this: FastifyInstance, request, reply) {
    const entry = entryOf(request, 'requireAuth()')
    return step(
      () => authorize(entry.auth, entry.ctx, options),
      (result) => {
        // returning the reply tells Fastify that the route answered
        if (result.response) return send(reply, result.response)
        authorized(request, entry, result)
        const value = handler.call(this, request as AuthenticatedRequest, reply)
        // after an await (the session read had I/O), a handler that returns nothing but sends
        // through the reply must not be taken for an empty answer: the reply stands for it
        return value === undefined ? reply : value
      },
      rethrow,
    )
  }
}

/**
 * Starts a login from the app's own handler, as `/login` does, with this login's options:
 * `returnTo`, `authorizationParams` (`{ prompt: 'login' }`, `{ screen_hint: 'signup' }`, …),
 * `maxAge` and `acr` (checked in the new ID token). Sends the redirect to the provider and
 * resolves once it is sent; rejects with codeflow's errors, for Fastify's error handling.
 * `app.get('/signup', (request, reply) => login(request, reply, { authorizationParams: { screen_hint: 'signup' } }))`
 */
export async function login(
  request: FastifyRequest,
  reply: FastifyReply,
  options?: LoginOptions,
): Promise<void> {
  const entry = entryOf(request, 'login()')
  // awaiting the reply: Fastify then knows the route answered, even with async onSend hooks
  await send(reply, await startLogin(entry.auth, entry.ctx, options))
}

/**
 * Logs out from the app's own handler, as `/logout` does (a GET from another site gets the
 * confirmation page; a POST must come from the app's origin), landing on `returnTo`. Resolves
 * once the answer is sent.
 */
export async function logout(
  request: FastifyRequest,
  reply: FastifyReply,
  options?: LogoutOptions,
): Promise<void> {
  const entry = entryOf(request, 'logout()')
  await send(reply, await handleLogout(entry.auth, entry.ctx, options))
}

/** A Fastify error handler, as `setErrorHandler` takes it. */
export type ErrorHandler = (
  this: FastifyInstance,
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
) => unknown

/**
 * An error handler for `app.setErrorHandler()` that renders codeflow's errors: an HTML page for
 * page navigations, JSON otherwise, with the right status, never a stack trace. Other errors go to
 * `fallback` when given. Without one, a client's fault (a 4xx `statusCode`: a validation error,
 * say) goes on to the parent's error handler (Fastify's own at the root), and any other error
 * gets codeflow's generic 500 page, its message kept for codeflow's logger: Fastify's own handler
 * would show it to the browser.
 */
export function authErrorHandler(fallback?: ErrorHandler): ErrorHandler {
  return function renderAuthError(error, request, reply) {
    const entry = attached(request)
    if (error instanceof AuthError && entry && !reply.sent) {
      return send(reply, handleError(entry.auth, entry.ctx, error))
    }
    if (fallback) return fallback.call(this, error, request, reply)
    // Fastify's own handler shows any error's message, a 500's too: codeflow's generic page
    // instead (the error goes to codeflow's logger); a client's fault goes on to Fastify's
    const status = Number(error?.statusCode ?? 500)
    if (entry && !reply.sent && !(status >= 400 && status < 500)) {
      return send(reply, handleError(entry.auth, entry.ctx, error))
    }
    // what an error handler throws, Fastify gives to the next one up
    throw error
  }
}

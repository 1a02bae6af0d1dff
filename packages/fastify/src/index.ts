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
  type AuthResponse,
  attach,
  attached,
  authenticate,
  authorize,
  authRoutePaths,
  createNodeContext,
  failure,
  handleError,
  handleLogout,
  type LoginOptions,
  type LogoutOptions,
  type ResponseHeaders,
  rejectionTo,
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
  preHandlerHookHandler,
  RouteGenericInterface,
} from 'fastify'

/** What the plugin puts on the request: see the core's `RequestAuth`. */
export type { LoginOptions, LogoutOptions, RequestAuth, SignedInAuth }

declare module 'fastify' {
  interface FastifyRequest {
    /** set by `@codeflow/fastify`'s `onRequest` hook on every request of its instance */
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

/** A Fastify error handler, as `setErrorHandler` takes it. */
export type ErrorHandler = (
  this: FastifyInstance,
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
) => unknown

/**
 * The reply's own headers, where the core writes: Fastify sends them over those of `reply.raw`,
 * and `reply.header()` appends a `Set-Cookie` to the app's. It remembers what `onSend` keeps.
 */
class ReplyHeaders implements ResponseHeaders {
  readonly #reply: FastifyReply
  /** the core's `Cache-Control` (`no-store` with its cookies) */
  cacheControl: string | undefined
  /** whether the core read the session: the answer varies on `Cookie` */
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
    // a body parser has read the stream only before the app's own login() or logout()
    return createNodeContext(request.raw, headers, origin, request.originalUrl, () => request.body)
  }).ctx
}

/**
 * `onSend`: codeflow's headers, whatever the route set after the hook: its `Cache-Control`
 * (`no-store` with its cookies: no shared cache keeps a session), `Cookie` in `Vary`.
 */
function keepHeaders(request: FastifyRequest, reply: FastifyReply): void {
  const headers = (request as WithHeaders)[HEADERS]
  if (headers === undefined) return
  const { cacheControl } = headers
  if (cacheControl !== undefined && reply.getHeader('cache-control') !== cacheControl) {
    reply.header('cache-control', cacheControl)
  }
  if (!headers.varies) return
  const vary = reply.getHeader('vary')
  const value = Array.isArray(vary) ? vary.join(', ') : vary?.toString()
  const withCookie = varyWithCookie(value)
  if (withCookie !== value) reply.header('vary', withCookie)
}

function send(reply: FastifyReply, response: AuthResponse): FastifyReply {
  return reply.code(response.status).headers(response.headers).send(response.body)
}

/** What fails after I/O: Fastify's error handling, unless the reply is sent already. */
function failed(reply: FastifyReply, error: unknown): void {
  if (!reply.sent) reply.send(error as FastifyError)
  else reply.log.error({ err: error }, 'codeflow: a step failed after the reply was sent')
}

/** `request.auth` on the requests codeflow answers itself or fails, for the hooks after. */
function setAnonymous(request: FastifyRequest): void {
  const entry = attached(request)
  if (entry) request.auth = requestAuth(entry.auth, entry.ctx, undefined)
}

function entryOf(request: FastifyRequest, name: string) {
  const entry = attached(request)
  if (!entry) throw new Error(`${name} needs the codeflow plugin registered on this instance`)
  return entry
}

/**
 * The plugin: serves the login, callback and logout routes (all of the core's route table) and
 * sets `request.auth` on every request, in an `onRequest` hook, before Fastify parses a body (the
 * core reads its own forms). `app.register(codeflow, options)` takes the options of `createAuth`
 * (checked as the plugin loads: a bad option fails `ready()` and `listen()`) or an `Auth`. Not
 * encapsulated. Errors go to Fastify's error handling; `authErrorHandler()` renders them.
 */
export const codeflow: FastifyPluginCallback<AuthOptions | Auth> = (fastify, options, done) => {
  let config: Auth
  try {
    if ('prefix' in options) {
      throw new TypeError(
        `@codeflow/fastify: the "prefix" register option does not move codeflow's routes: set their paths with the "routes" option (or the path of "baseUrl")`,
      )
    }
    config = toAuth(options)
    declareRoutes(fastify, config)
  } catch (error) {
    done(error as Error)
    return
  }
  // declared up front, as Fastify wants; null only before the hook ran. Shared by two instances
  if (!fastify.hasRequestDecorator('auth')) fastify.decorateRequest('auth', null as never)
  fastify.addHook('onRequest', (request, reply, next) => {
    const answered = step(
      () => authenticate(config, contextOf(config, request, reply)),
      (result) => {
        if (!result.response) {
          request.auth = result.auth
          return next()
        }
        // a hook that answers does not call next: Fastify runs no handler for this request
        setAnonymous(request)
        send(reply, result.response)
      },
      (error) => {
        setAnonymous(request)
        next(error as FastifyError)
      },
    )
    rejectionTo(answered, (error) => failed(reply, error))
  })
  fastify.addHook('onSend', (request, reply, payload, next) => {
    keepHeaders(request, reply)
    next(null, payload)
  })
  done()
}

/**
 * codeflow's paths as routes of this instance, every method (the hook answers; a method a route
 * does not take is its 405): Fastify knows them, runs this instance's hooks for them and reaches
 * them under its prefix. An app's route at one of them is Fastify's clash at start-up.
 */
function declareRoutes(fastify: FastifyInstance, config: Auth): void {
  const { prefix } = fastify
  for (const path of authRoutePaths(config)) {
    if (!path.startsWith(prefix) || (path.length > prefix.length && path[prefix.length] !== '/')) {
      throw new Error(
        `@codeflow/fastify: codeflow's route ${path} is outside the prefix ${prefix} of the instance the plugin is registered on: register it where its routes are reached (the root instance), or set "routes" under ${prefix}`,
      )
    }
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
  const handler = typeof first === 'function' ? first : undefined
  const options = (typeof first === 'function' ? second : first) ?? {}
  /** the guard's step: the route's handler (or `next`) for a session, else the core's answer */
  const guarded = (
    request: FastifyRequest,
    reply: FastifyReply,
    then: () => unknown,
    fail: (error: unknown) => unknown,
  ) => {
    const entry = entryOf(request, 'requireAuth()')
    return step(
      () => authorize(entry.auth, entry.ctx, options),
      (result) => {
        if (result.response) return send(reply, result.response)
        // the plugin set it for the same session already, unless the session changed since
        if (request.auth?.session !== result.session) {
          request.auth = requestAuth(entry.auth, entry.ctx, result.session)
        }
        return then()
      },
      fail,
    )
  }
  if (handler) {
    return function route(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
      return guarded(
        request,
        reply,
        () => {
          const value = handler.call(this, request as AuthenticatedRequest, reply)
          // after an await (a session read with I/O), a handler that returns nothing but sends
          // through the reply is not an empty answer: the reply stands for it
          return value === undefined ? reply : value
        },
        (error) => {
          throw error
        },
      )
    }
  }
  return (request, reply, next) => {
    let answered: unknown
    try {
      answered = guarded(request, reply, next, (error) => next(error as FastifyError))
    } catch (error) {
      return next(failure(error) as FastifyError)
    }
    rejectionTo(answered, (error) => failed(reply, error))
  }
}

/**
 * Starts a login from the app's own handler, as `/login` does, with this login's options:
 * `returnTo`, `authorizationParams` (`{ prompt: 'login' }`, `{ screen_hint: 'signup' }`, …),
 * `maxAge` and `acr` (checked in the new ID token). Sends the redirect to the provider and
 * resolves once it is sent (as Fastify needs with async `onSend` hooks); rejects with codeflow's
 * errors, for Fastify's error handling.
 */
export async function login(
  request: FastifyRequest,
  reply: FastifyReply,
  options?: LoginOptions,
): Promise<void> {
  const entry = entryOf(request, 'login()')
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

/**
 * An error handler for `app.setErrorHandler()` that renders codeflow's errors: an HTML page for
 * page navigations, JSON otherwise, with the right status, never a stack trace. Other errors go to
 * `fallback` when given. Without one, a client's fault (a 4xx `statusCode`: a validation error)
 * goes on to the parent's error handler (Fastify's own at the root), and any other error gets
 * codeflow's generic 500, its message kept for the logger: Fastify's own would show it.
 */
export function authErrorHandler(fallback?: ErrorHandler): ErrorHandler {
  return function renderAuthError(error, request, reply) {
    const entry = attached(request)
    if (error instanceof AuthError && entry && !reply.sent) {
      return send(reply, handleError(entry.auth, entry.ctx, error))
    }
    if (fallback) return fallback.call(this, error, request, reply)
    const status = Number(error?.statusCode ?? 500)
    if (entry && !reply.sent && !(status >= 400 && status < 500)) {
      return send(reply, handleError(entry.auth, entry.ctx, error))
    }
    // what an error handler throws, Fastify gives to the next one up
    throw error
  }
}

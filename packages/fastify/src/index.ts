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
    this.#reply.header(name, value)
  }
  // the core appends Set-Cookie only, which reply.header() appends
  appendHeader(name: string, value: string): void {
    this.#reply.header(name, value)
  }
}

function contextOf(config: Auth, request: FastifyRequest, reply: FastifyReply) {
  return attach(request, config, (origin) =>
    // a body parser has consumed the stream only if the app calls login() or logout() itself
    createNodeContext(
      request.raw,
      new ReplyHeaders(reply),
      origin,
      request.originalUrl,
      () => request.body,
    ),
  ).ctx
}

function send(reply: FastifyReply, response: AuthResponse): FastifyReply {
  return reply.code(response.status).headers(response.headers).send(response.body)
}

/** What a rejected step after I/O becomes: Fastify's error handling, unless it answered already. */
function failed(reply: FastifyReply, error: unknown): void {
  if (reply.sent)
    reply.log.error({ err: error }, 'codeflow: a step failed after the reply was sent')
  else reply.send(error as Error)
}

function authenticated(
  request: FastifyRequest,
  reply: FastifyReply,
  next: HookHandlerDoneFunction,
  result: Authenticated,
): void {
  // a hook that answers does not call next: Fastify runs no route for this request
  if (result.response) {
    send(reply, result.response)
    return
  }
  request.auth = result.auth
  next()
}

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
    config = toAuth(options)
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
      next(error as FastifyError)
      return
    }
    if (!(result instanceof Promise)) return authenticated(request, reply, next, result)
    result
      .then((value) => authenticated(request, reply, next, value), next)
      .catch((error: unknown) => failed(reply, error))
  })
  done()
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
      next(error as FastifyError)
      return
    }
    if (!(result instanceof Promise)) return passed(request, reply, next, entry, result)
    result
      .then((value) => passed(request, reply, next, entry, value), next)
      .catch((error: unknown) => failed(reply, error))
  }
}

/** A throw or a rejection of the guard is the route's error, for Fastify's error handling. */
const rethrow = (error: unknown): never => {
  throw error
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
        return handler.call(this, request as AuthenticatedRequest, reply)
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
 * `fallback` when given, else to the parent's error handler (Fastify's own at the root).
 */
export function authErrorHandler(fallback?: ErrorHandler): ErrorHandler {
  return function renderAuthError(error, request, reply) {
    const entry = attached(request)
    if (error instanceof AuthError && entry && !reply.sent) {
      return send(reply, handleError(entry.auth, entry.ctx, error))
    }
    if (fallback) return fallback.call(this, error, request, reply)
    // what an error handler throws, Fastify gives to the next one up
    throw error
  }
}

/**
 * @codeflow/express: OpenID Connect login for Express 4.21+ and 5. A thin adapter on the core's kit: it
 * builds the core's context from `req`/`res`, and sends what the core answers.
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
  createNodeContext,
  handleError,
  handleLogout,
  type LoginOptions,
  type LogoutOptions,
  rejectionTo,
  requestAuth,
  startLogin,
  step,
  toAuth,
} from '@codeflow/core/adapter'
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express'

/** What `auth()` puts on the request: see the core's `RequestAuth`. */
export type { LoginOptions, LogoutOptions, RequestAuth, SignedInAuth }

/** A request behind `requireAuth(handler)`: its `auth` is signed in. */
export type AuthenticatedRequest<Req extends Request = Request> = Req & { auth: SignedInAuth }

/**
 * A handler behind `requireAuth(handler)`. It may be async on Express 4 too: a rejection goes to
 * `next(error)`.
 */
export type AuthenticatedHandler<Req extends Request = Request> = (
  req: AuthenticatedRequest<Req>,
  res: Response,
  next: NextFunction,
) => unknown

declare global {
  namespace Express {
    interface Request {
      /** set by `@codeflow/express`'s `auth()` */
      auth?: RequestAuth
    }
  }
}

function send(res: Response, response: AuthResponse): void {
  res.status(response.status)
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value)
  res.end(response.body)
}

/** Express middleware mounting `auth`'s routes and setting `req.auth`. */
export type AuthMiddleware = RequestHandler & {
  /** the core configuration, for `requireAuth` and the core's functions */
  readonly auth: Auth
}

/**
 * Mounts the login, callback and logout routes and sets `req.auth` on every request. Takes the
 * options of `createAuth` (validated now: a bad option throws at start-up) or an existing `Auth`.
 * Errors go to `next(err)` with `status`; add `authErrorHandler()` to render them.
 */
export function auth(options: AuthOptions | Auth): AuthMiddleware {
  const config = toAuth(options)
  const middleware: RequestHandler = (req, res, next) => {
    const done = step(
      () => {
        const { ctx } = attach(req, config, (origin) => createNodeContext(req, res, origin))
        return authenticate(config, ctx)
      },
      (result) => {
        if (result.response) return send(res, result.response)
        req.auth = result.auth
        next()
      },
      next,
    )
    // after I/O, a failure to send (the response already sent) rejects: Express 4 would not see it
    rejectionTo(done, next)
  }
  return Object.assign(middleware, { auth: config })
}

/**
 * Lets only signed-in requests through. Anonymous page navigations get a 302 to login (back to
 * this page afterwards), API calls a 401 JSON error with `WWW-Authenticate`; see `GuardOptions`.
 * The session is read again here, whatever ran before: `auth()` must be mounted first.
 *
 * As `requireAuth(handler, options)` it wraps the route's handler, which then sees a signed-in
 * `req.auth` in its types (no `!`): `app.get('/me', requireAuth((req, res) => …))`.
 */
export function requireAuth(options?: GuardOptions): RequestHandler
export function requireAuth<Req extends Request = Request>(
  handler: AuthenticatedHandler<Req>,
  options?: GuardOptions,
): RequestHandler
export function requireAuth(
  first?: GuardOptions | AuthenticatedHandler,
  second?: GuardOptions,
): RequestHandler {
  const handler = typeof first === 'function' ? first : undefined
  const options = (typeof first === 'function' ? second : first) ?? {}
  return (req, res, next) => {
    const entry = attached(req)
    if (!entry) return next(new Error('requireAuth() needs auth() mounted before it'))
    const done = step(
      () => authorize(entry.auth, entry.ctx, options),
      (result) => {
        if (result.response) return send(res, result.response)
        if (!handler) return next()
        req.auth = requestAuth(entry.auth, entry.ctx, result.session)
        run(handler, req as AuthenticatedRequest, res, next)
      },
      next,
    )
    rejectionTo(done, next)
  }
}

/** Calls a handler; what it throws or rejects with goes to `next` (Express 4 catches neither). */
function run(
  handler: AuthenticatedHandler,
  req: AuthenticatedRequest,
  res: Response,
  next: NextFunction,
): void {
  // a falsy error would make next() go on to the next route, as Express 5 avoids too
  const fail = (error: unknown) => next(error || new Error('the handler rejected without an error'))
  try {
    const done = handler(req, res, next) as PromiseLike<unknown> | undefined
    if (typeof done?.then === 'function') done.then(undefined, fail)
  } catch (error) {
    fail(error)
  }
}

/**
 * Starts a login from the app's own handler, as `/login` does, with this login's options:
 * `returnTo`, `authorizationParams` (`{ prompt: 'login' }`, `{ screen_hint: 'signup' }`, …),
 * `maxAge` and `acr` (checked in the new ID token). Sends the redirect to the provider; rejects
 * with codeflow's errors (pass them to `next`, for `authErrorHandler`).
 * `app.get('/signup', (req, res, next) => login(req, res, { authorizationParams: { screen_hint: 'signup' } }).catch(next))`
 */
export async function login(req: Request, res: Response, options?: LoginOptions): Promise<void> {
  const entry = attached(req)
  if (!entry) throw new Error('login() needs auth() mounted before it')
  send(res, await startLogin(entry.auth, entry.ctx, options))
}

/**
 * Logs out from the app's own handler, as `/logout` does (a GET from another site gets the
 * confirmation page; a POST must come from the app's origin), landing on `returnTo`.
 */
export async function logout(req: Request, res: Response, options?: LogoutOptions): Promise<void> {
  const entry = attached(req)
  if (!entry) throw new Error('logout() needs auth() mounted before it')
  send(res, await handleLogout(entry.auth, entry.ctx, options))
}

/**
 * An error handler for codeflow's errors: an HTML page for page navigations, JSON otherwise, with
 * the right status, never a stack trace. Other errors go on to the next error handler.
 */
export function authErrorHandler(): ErrorRequestHandler {
  return (error, req, res, next) => {
    const entry = attached(req)
    if (!(error instanceof AuthError) || res.headersSent || !entry) return next(error)
    send(res, handleError(entry.auth, entry.ctx, error))
  }
}

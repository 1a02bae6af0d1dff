/**
 * @codeflow/express: OpenID Connect login for Express 5. A thin adapter on the core's kit: it
 * builds the core's context from `req`/`res`, and sends what the core answers.
 */
import {
  type Auth,
  AuthError,
  type AuthOptions,
  type GuardOptions,
  type RequestAuth,
} from '@codeflow/core'
import {
  type AuthResponse,
  attach,
  attached,
  authenticate,
  authorize,
  createNodeContext,
  handleError,
  step,
  toAuth,
} from '@codeflow/core/adapter'
import type { ErrorRequestHandler, RequestHandler, Response } from 'express'

/** What `auth()` puts on the request: see the core's `RequestAuth`. */
export type { RequestAuth }

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
  const middleware: RequestHandler = (req, res, next) =>
    step(
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
  return Object.assign(middleware, { auth: config })
}

/**
 * Lets only signed-in requests through. Anonymous page navigations get a 302 to login (back to
 * this page afterwards), API calls a 401 JSON error with `WWW-Authenticate`; see `GuardOptions`.
 * The session is read again here, whatever ran before: `auth()` must be mounted first.
 */
export function requireAuth(options: GuardOptions = {}): RequestHandler {
  return (req, res, next) =>
    step(
      () => {
        const entry = attached(req)
        if (!entry) throw new Error('requireAuth() needs auth() mounted before it')
        return authorize(entry.auth, entry.ctx, options)
      },
      (result) => (result.response ? send(res, result.response) : next()),
      next,
    )
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

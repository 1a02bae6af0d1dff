/**
 * @codeflow/express: OpenID Connect login for Express 5. A thin adapter: it builds the core's
 * context from `req`/`res`, and sends what the core answers. No protocol logic lives here.
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
  type HttpContext,
  handleAuthRoute,
  handleError,
  type RequestAuth,
  requestAuth,
} from '@codeflow/core'
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express'

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

const contexts = new WeakMap<Request, { auth: Auth; ctx: HttpContext }>()

function contextOf(auth: Auth, req: Request, res: Response): HttpContext {
  let entry = contexts.get(req)
  if (!entry || entry.auth !== auth) {
    entry = { auth, ctx: createNodeContext(req, res, auth.options.origin) }
    contexts.set(req, entry)
  }
  return entry.ctx
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
  const config = 'provider' in options ? options : createAuth(options)
  const middleware: RequestHandler = async (req, res, next) => {
    try {
      const ctx = contextOf(config, req, res)
      const response = await handleAuthRoute(config, ctx)
      if (response) return send(res, response)
      const session = await getSession(config, ctx)
      req.auth = requestAuth(config, ctx, session)
      next()
    } catch (error) {
      next(error)
    }
  }
  return Object.assign(middleware, { auth: config })
}

/**
 * Lets only signed-in requests through. Anonymous page navigations get a 302 to login (back to
 * this page afterwards), API calls a 401 JSON error with `WWW-Authenticate`; see `GuardOptions`.
 * The session is read again here, whatever ran before: `auth()` must be mounted first.
 */
export function requireAuth(options: GuardOptions = {}): RequestHandler {
  return async (req, res, next) => {
    try {
      const entry = contexts.get(req)
      if (!entry) throw new Error('requireAuth() needs auth() mounted before it')
      const result = await guard(entry.auth, entry.ctx, options)
      if (result.response) return send(res, result.response)
      next()
    } catch (error) {
      next(error)
    }
  }
}

/**
 * An error handler for codeflow's errors: an HTML page for page navigations, JSON otherwise, with
 * the right status, never a stack trace. Other errors go on to the next error handler.
 */
export function authErrorHandler(): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (!(error instanceof AuthError) || res.headersSent) return next(error)
    const entry = contexts.get(req)
    if (!entry) return next(error)
    send(res, handleError(entry.auth, entry.ctx, error))
  }
}

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
  type GuardResult,
  getSessionNow,
  guardNow,
  type HttpContext,
  handleAuthRouteNow,
  handleError,
  type RequestAuth,
  requestAuth,
  type Session,
} from '@codeflow/core'
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express'

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

interface Entry {
  readonly auth: Auth
  readonly ctx: HttpContext
}

// on the request itself (not a WeakMap: an ephemeron per request slows the GC)
const CONTEXT = Symbol('codeflow.express')

type WithEntry = Request & { [CONTEXT]?: Entry }

function entryOf(req: Request): Entry | undefined {
  return (req as WithEntry)[CONTEXT]
}

function contextOf(auth: Auth, req: Request, res: Response): HttpContext {
  let entry = entryOf(req)
  if (!entry || entry.auth !== auth) {
    entry = { auth, ctx: createNodeContext(req, res, auth.options.origin) }
    ;(req as WithEntry)[CONTEXT] = entry
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
  // synchronous when the request is not for a route of ours and its session read needs no I/O
  const middleware: RequestHandler = (req, res, next) => {
    let ctx: HttpContext
    let session: Session | undefined | Promise<Session | undefined>
    try {
      ctx = contextOf(config, req, res)
      const route = handleAuthRouteNow(config, ctx)
      if (route) {
        route.then((response) => {
          try {
            if (response) send(res, response)
            else withSession(config, ctx, getSessionNow(config, ctx), req, next)
          } catch (error) {
            next(error)
          }
        }, next)
        return
      }
      session = getSessionNow(config, ctx)
    } catch (error) {
      return next(error)
    }
    withSession(config, ctx, session, req, next)
  }
  return Object.assign(middleware, { auth: config })
}

function withSession(
  auth: Auth,
  ctx: HttpContext,
  session: Session | undefined | Promise<Session | undefined>,
  req: Request,
  next: NextFunction,
): void {
  if (session instanceof Promise) {
    session.then((found) => withSession(auth, ctx, found, req, next), next)
    return
  }
  req.auth = requestAuth(auth, ctx, session)
  next()
}

/**
 * Lets only signed-in requests through. Anonymous page navigations get a 302 to login (back to
 * this page afterwards), API calls a 401 JSON error with `WWW-Authenticate`; see `GuardOptions`.
 * The session is read again here, whatever ran before: `auth()` must be mounted first.
 */
export function requireAuth(options: GuardOptions = {}): RequestHandler {
  const pass = (res: Response, next: NextFunction, result: GuardResult): void => {
    if (result.response) send(res, result.response)
    else next()
  }
  return (req, res, next) => {
    let result: GuardResult | Promise<GuardResult>
    try {
      const entry = entryOf(req)
      if (!entry) throw new Error('requireAuth() needs auth() mounted before it')
      result = guardNow(entry.auth, entry.ctx, options)
    } catch (error) {
      return next(error)
    }
    if (result instanceof Promise) result.then((found) => pass(res, next, found), next)
    else pass(res, next, result)
  }
}

/**
 * An error handler for codeflow's errors: an HTML page for page navigations, JSON otherwise, with
 * the right status, never a stack trace. Other errors go on to the next error handler.
 */
export function authErrorHandler(): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (!(error instanceof AuthError) || res.headersSent) return next(error)
    const entry = entryOf(req)
    if (!entry) return next(error)
    send(res, handleError(entry.auth, entry.ctx, error))
  }
}

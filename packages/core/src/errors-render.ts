import type { Auth } from './auth.js'
import type { HttpContext } from './context.js'
import { AuthError } from './errors.js'
import { report } from './logger.js'
import { type AuthResponse, errorResponse } from './responses.js'

/**
 * What an adapter's error handler calls: reports the error to the logger (server and provider
 * faults as `error`, the client's own as `info`) and renders it for the user with
 * `errorResponse`, linking back to the app's home page.
 */
export function handleError(auth: Auth, ctx: HttpContext, error: unknown): AuthResponse {
  const status = error instanceof AuthError ? error.status : 500
  report(auth.options.logger, {
    level: status >= 500 ? 'error' : 'info',
    code: error instanceof AuthError ? error.code : 'internal_error',
    message: error instanceof Error ? error.message : String(error),
    error,
  })
  return errorResponse(ctx, error, { home: auth.options.homeUrl })
}

/** What codeflow answers for an error, wherever it is caught: reported once, then rendered. */
import type { App } from '../auth.js'
import { AuthError } from '../errors.js'
import { wasReported } from '../logger.js'
import type { HttpContext } from './context.js'
import { type AuthResponse, errorResponse } from './responses.js'

/**
 * Reports `error` to the logger, once, with its operator `hint` when it has one (server and
 * provider faults as `error`; the client's own as `info`, or `warn` with a hint), and renders it
 * with `errorResponse`, linking back to the app's home page, with the hint outside production.
 */
export function answerError(app: App, ctx: HttpContext, error: unknown): AuthResponse {
  const known = error instanceof AuthError
  const status = known ? error.status : 500
  const hint = known ? error.hint : undefined
  if (!wasReported(error))
    app.report({
      // the client's own faults are info, unless there is something for the operator to change
      level: status >= 500 ? 'error' : hint === undefined ? 'info' : 'warn',
      code: known ? error.code : 'internal_error',
      message: hint ?? (error instanceof Error ? error.message : String(error)),
      error,
    })
  const { homeUrl: home, development: details } = app.settings
  return errorResponse(ctx, error, { home, details })
}

/**
 * Access tokens for the app's API calls: the session's token while it is valid, otherwise one
 * refresh with the refresh token (`refresh.ts`), or a token for another resource or scope kept
 * beside the session's own.
 */
import { type Auth, appOf } from '../auth.js'
import { epoch } from '../clock.js'
import { AuthError, UnauthenticatedError } from '../errors.js'
import type { HttpContext } from '../http/context.js'
import { endSession } from '../session/end.js'
import { loginUrlFor, requireSession } from '../session/guard.js'
import type { ExtraToken, SessionData } from '../session/types.js'
import { writeSession } from '../session/write.js'
import type { Target } from './grant.js'
import { refreshSession } from './refresh.js'

/** Options of `getAccessToken`. */
export interface AccessTokenOptions {
  /** refresh even if the token is still valid; default false */
  forceRefresh?: boolean
  /** refresh when the token expires within this many seconds; default the `refreshMargin` option */
  refreshMargin?: number
  /**
   * a token for this resource server (RFC 8707 `resource`) instead of the session's own; kept in
   * the session beside it
   */
  resource?: string
  /** a token with this (narrower) scope instead of the session's own; kept beside it */
  scope?: string
}

/** A valid access token. */
export interface AccessToken {
  readonly token: string
  readonly type: string
  /** epoch seconds, when the provider said */
  readonly expiresAt: number | undefined
  readonly scope: string | undefined
}

function targetOf(options: AccessTokenOptions): Target {
  if (options.resource === undefined && options.scope === undefined)
    return { key: undefined, params: {} }
  return {
    key: JSON.stringify([options.resource ?? null, options.scope ?? null]),
    params: {
      ...(options.resource === undefined ? {} : { resource: options.resource }),
      ...(options.scope === undefined ? {} : { scope: options.scope }),
    },
  }
}

/** The token `target` designates in `session`, if any. */
function tokenOf(session: SessionData, target: Target): ExtraToken | undefined {
  if (target.key === undefined) {
    return {
      accessToken: session.accessToken,
      tokenType: session.tokenType,
      expiresAt: session.expiresAt,
      scope: session.scope,
    }
  }
  return session.extraTokens?.[target.key]
}

function isFresh(token: ExtraToken | undefined, margin: number, now: number): boolean {
  return token !== undefined && (token.expiresAt === undefined || token.expiresAt - margin > now)
}

/**
 * A valid access token for the session, refreshed when it has expired or expires within the
 * margin; with `resource` or `scope`, a token for that resource or scope, kept beside the
 * session's own. A session that an earlier request already refreshed is taken from that refresh
 * (and written) rather than refreshed again; with a locking store (Redis) that holds across
 * instances too. A refresh the provider refuses (`invalid_grant`, another user) ends the session
 * and throws `UnauthenticatedError`; provider faults are retried twice, then throw
 * `TokenRefreshError` (502, or 504 on a timeout).
 */
export async function getAccessToken(
  auth: Auth,
  ctx: HttpContext,
  options: AccessTokenOptions = {},
): Promise<AccessToken> {
  const app = appOf(auth)
  const { settings } = app
  const session = await requireSession(auth, ctx)
  let current = app.refreshes.newest(session, epoch(settings))
  const margin = options.refreshMargin ?? settings.refreshMargin
  const target = targetOf(options)
  if (options.forceRefresh || !isFresh(tokenOf(current, target), margin, epoch(settings))) {
    const stale = tokenOf(current, target)?.accessToken
    // forced: any token other than the one we had; otherwise: a fresh one
    const done = (candidate: SessionData) => {
      const token = tokenOf(candidate, target)
      return options.forceRefresh
        ? token?.accessToken !== stale && token !== undefined
        : isFresh(token, margin, epoch(settings))
    }
    try {
      current = await refreshSession(app, current, target, done)
    } catch (error) {
      if (error instanceof AuthError && error.status === 401) {
        app.report({
          level: 'info',
          code: 'session_ended_by_refresh',
          message: 'the provider refused to refresh the session; it was ended',
          error,
        })
        await endSession(app, ctx, 'dropped')
        throw new UnauthenticatedError(
          loginUrlFor(app, ctx),
          'the session has ended, sign in again',
        )
      }
      throw error
    }
  }
  if (current !== session) await writeSession(app, ctx, current)
  const token = tokenOf(current, target) as ExtraToken
  return {
    token: token.accessToken,
    type: token.tokenType,
    expiresAt: token.expiresAt,
    scope: token.scope,
  }
}

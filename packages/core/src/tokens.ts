/**
 * Access tokens for the app's API calls: the session's token while it is valid, otherwise one
 * refresh with the refresh token. Concurrent callers on one session share a single refresh.
 */
import type { Auth } from './auth.js'
import type { HttpContext } from './context.js'
import { AuthError, TokenRefreshError, UnauthenticatedError } from './errors.js'
import { loginUrl, requireSession } from './guard.js'
import { report } from './logger.js'
import { refreshTokens, type TokenSet } from './provider.js'
import { clearSession, epoch, type SessionData, storeSession, userClaims } from './session.js'

/** Options of `getAccessToken`. */
export interface AccessTokenOptions {
  /** refresh even if the token is still valid; default false */
  forceRefresh?: boolean
  /** refresh when the token expires within this many seconds; default 60 */
  refreshMargin?: number
}

/** A valid access token. */
export interface AccessToken {
  readonly token: string
  readonly type: string
  /** epoch seconds, when the provider said */
  readonly expiresAt: number | undefined
  readonly scope: string | undefined
}

const inflight = new WeakMap<Auth, Map<string, Promise<SessionData>>>()

/** OIDC Core 12.2: a refreshed ID token must be about the same user, from the same issuer. */
function checkRefreshedIdToken(session: SessionData, tokens: TokenSet): void {
  if (!tokens.idToken || !tokens.claims) return
  const before = userClaims(session.idToken, session.sub)
  const after = tokens.claims
  const sameAud = JSON.stringify(before.aud) === JSON.stringify(after.aud)
  if (after.iss !== session.iss || after.sub !== session.sub || (before.aud && !sameAud)) {
    throw new TokenRefreshError('the refreshed ID token is about another user', 401)
  }
}

async function refresh(auth: Auth, session: SessionData): Promise<SessionData> {
  if (!session.refreshToken) throw new TokenRefreshError('no refresh token', 401)
  const provider = await auth.provider.get()
  const tokens = await refreshTokens(provider, session.refreshToken)
  checkRefreshedIdToken(session, tokens)
  return {
    ...session,
    idToken: tokens.idToken ?? session.idToken,
    accessToken: tokens.accessToken,
    tokenType: tokens.tokenType,
    expiresAt: tokens.expiresAt,
    // a response without a new refresh token keeps the old one
    refreshToken: tokens.refreshToken ?? session.refreshToken,
    scope: tokens.scope ?? session.scope,
    updatedAt: epoch(),
  }
}

function sharedRefresh(auth: Auth, session: SessionData): Promise<SessionData> {
  let perAuth = inflight.get(auth)
  if (!perAuth) {
    perAuth = new Map()
    inflight.set(auth, perAuth)
  }
  const running = perAuth.get(session.id)
  if (running) return running
  const started = refresh(auth, session).finally(() => perAuth.delete(session.id))
  perAuth.set(session.id, started)
  return started
}

/**
 * A valid access token for the session, refreshed when it has expired or expires within the
 * margin. A refresh the provider refuses (`invalid_grant`, another user) ends the session and
 * throws `UnauthenticatedError`; provider faults throw `TokenRefreshError` (502/504).
 */
export async function getAccessToken(
  auth: Auth,
  ctx: HttpContext,
  options: AccessTokenOptions = {},
): Promise<AccessToken> {
  const session = await requireSession(auth, ctx)
  const margin = options.refreshMargin ?? 60
  const fresh = session.expiresAt === undefined || session.expiresAt - margin > epoch()
  let current: SessionData = session
  if (options.forceRefresh || !fresh) {
    try {
      current = await sharedRefresh(auth, session)
    } catch (error) {
      if (error instanceof AuthError && error.status === 401) {
        report(auth.options.logger, {
          level: 'info',
          code: 'session_ended_by_refresh',
          message: 'the provider refused to refresh the session; it was ended',
          error,
        })
        clearSession(ctx, auth.options)
        throw new UnauthenticatedError(loginUrl(auth, ctx), 'the session has ended, sign in again')
      }
      throw error
    }
    await storeSession(ctx, auth.options, current)
  }
  return {
    token: current.accessToken,
    type: current.tokenType,
    expiresAt: current.expiresAt,
    scope: current.scope,
  }
}

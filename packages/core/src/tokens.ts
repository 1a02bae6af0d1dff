/**
 * Access tokens for the app's API calls: the session's token while it is valid, otherwise one
 * refresh with the refresh token. Concurrent callers on one session share a single refresh, and a
 * completed refresh is remembered for a while: a request that still carries the old cookie (sent
 * before the browser stored the new one, or after a response that could not set cookies, such as
 * a Next.js Server Component) adopts the refreshed session instead of spending the old refresh
 * token again, which a provider that rotates refresh tokens would refuse (RFC 9700 §4.14.2).
 */
import type { Auth } from './auth.js'
import type { HttpContext } from './context.js'
import { AuthError, TokenRefreshError, UnauthenticatedError } from './errors.js'
import { loginUrl, requireSession } from './guard.js'
import { report } from './logger.js'
import { refreshTokens, type TokenSet } from './provider.js'
import {
  clearSession,
  epoch,
  jwtPayload,
  type Session,
  type SessionData,
  storeSession,
} from './session.js'

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

/** How long a completed refresh is remembered, in seconds. */
const REMEMBER_SECONDS = 3600
/** The most completed refreshes remembered at once; the oldest are forgotten first. */
const MAX_REMEMBERED = 5000

interface Refreshes {
  /** refreshes under way, by the refresh token they spend */
  readonly inflight: Map<string, Promise<SessionData>>
  /** completed refreshes, by the refresh token they spent; insertion order is expiry order */
  readonly recent: Map<string, { readonly next: SessionData; readonly until: number }>
}

// Kept on globalThis: a bundler may load this module twice in one process (Next.js builds its
// proxy and its app separately), and both copies must see the same refreshes.
const REGISTRY = Symbol.for('@codeflow/core.refreshes.v1')

function refreshes(): Refreshes {
  const global = globalThis as { [REGISTRY]?: Refreshes }
  global[REGISTRY] ??= { inflight: new Map(), recent: new Map() }
  return global[REGISTRY]
}

/** Identifies one refresh token of one session (session ids are random, 128 bits). */
function refreshKey(session: SessionData): string | undefined {
  if (session.refreshToken === undefined) return undefined
  return `${session.iss}\n${session.id}\n${session.refreshToken}`
}

function remember(key: string, next: SessionData): void {
  const { recent } = refreshes()
  const now = epoch()
  for (const [old, entry] of recent) {
    if (entry.until > now && recent.size < MAX_REMEMBERED) break
    recent.delete(old)
  }
  recent.set(key, { next, until: now + REMEMBER_SECONDS })
}

/** The newest session that completed refreshes made from `session`, following rotations. */
function newestSession(session: SessionData): SessionData {
  let current = session
  for (let step = 0; step < 8; step++) {
    const key = refreshKey(current)
    const entry = key === undefined ? undefined : refreshes().recent.get(key)
    if (!entry || entry.until <= epoch()) break
    // the same tokens (the browser has them already), or older ones (a later refresh elsewhere)
    const { next } = entry
    if (next.accessToken === current.accessToken || next.updatedAt < current.updatedAt) break
    current = next
  }
  return current
}

/** OIDC Core 12.2: a refreshed ID token must be about the same user, from the same issuer. */
function checkRefreshedIdToken(session: SessionData, tokens: TokenSet): void {
  if (!tokens.idToken || !tokens.claims) return
  // the original ID token's own claims (aud and azp are protocol claims, not in `user`); without
  // it (dropped by beforeSessionSaved) iss and sub are still compared
  const before = session.idToken === undefined ? undefined : jwtPayload(session.idToken)
  const after = tokens.claims
  const sameAud = before === undefined || JSON.stringify(before.aud) === JSON.stringify(after.aud)
  const sameAzp = before === undefined || before.azp === after.azp
  if (after.iss !== session.iss || after.sub !== session.sub || !sameAud || !sameAzp) {
    throw new TokenRefreshError('the refreshed ID token is about another user', 401)
  }
}

async function refresh(auth: Auth, session: SessionData): Promise<SessionData> {
  if (!session.refreshToken) throw new TokenRefreshError('no refresh token', 401)
  const provider = await auth.provider.get()
  const tokens = await refreshTokens(provider, session.refreshToken)
  checkRefreshedIdToken(session, tokens)
  // only what is sealed: a `Session` also carries `user` and `endsAt`, derived when it is read
  const { user: _user, endsAt: _endsAt, ...data } = session as SessionData & Partial<Session>
  return {
    ...data,
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
  const key = refreshKey(session)
  if (key === undefined) return refresh(auth, session)
  const { inflight } = refreshes()
  const running = inflight.get(key)
  if (running) return running
  const started = refresh(auth, session)
    .then((next) => {
      remember(key, next)
      return next
    })
    .finally(() => inflight.delete(key))
  inflight.set(key, started)
  return started
}

/**
 * A valid access token for the session, refreshed when it has expired or expires within the
 * margin. A session that an earlier request already refreshed is taken from that refresh (and
 * written) rather than refreshed again. A refresh the provider refuses (`invalid_grant`, another
 * user) ends the session and throws `UnauthenticatedError`; provider faults throw
 * `TokenRefreshError` (502/504).
 */
export async function getAccessToken(
  auth: Auth,
  ctx: HttpContext,
  options: AccessTokenOptions = {},
): Promise<AccessToken> {
  const session = await requireSession(auth, ctx)
  let current = newestSession(session)
  const margin = options.refreshMargin ?? 60
  const fresh = current.expiresAt === undefined || current.expiresAt - margin > epoch()
  if (options.forceRefresh || !fresh) {
    try {
      current = await sharedRefresh(auth, current)
    } catch (error) {
      if (error instanceof AuthError && error.status === 401) {
        report(auth.options.logger, {
          level: 'info',
          code: 'session_ended_by_refresh',
          message: 'the provider refused to refresh the session; it was ended',
          error,
        })
        await clearSession(ctx, auth.options)
        throw new UnauthenticatedError(loginUrl(auth, ctx), 'the session has ended, sign in again')
      }
      throw error
    }
  }
  if (current !== session) await storeSession(ctx, auth.options, current)
  return {
    token: current.accessToken,
    type: current.tokenType,
    expiresAt: current.expiresAt,
    scope: current.scope,
  }
}

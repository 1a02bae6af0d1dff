/**
 * One refresh at the provider: the refresh grant (retried on provider faults), the refreshed ID
 * token checked to be about the same user, and the session it makes.
 */
import type { App } from '../auth.js'
import { epoch } from '../clock.js'
import { TokenRefreshError } from '../errors.js'
import { jwtPayload } from '../protocol/claims.js'
import { refreshTokens, type TokenSet } from '../protocol/provider.js'
import type { ExtraToken, Session, SessionData } from '../session/types.js'

/** Which token a refresh is for: the session's own, or one for a resource and/or scope. */
export interface Target {
  /** where the token is kept in `extraTokens`; `undefined` for the session's own */
  readonly key: string | undefined
  /** the refresh request's `resource` and `scope` */
  readonly params: Readonly<Record<string, string>>
}

/** The most extra (resource or scope) tokens one session keeps; the oldest are dropped. */
const MAX_EXTRA_TOKENS = 4

/** OIDC Core 12.2: a refreshed ID token must be about the same user, from the same issuer. */
function checkRefreshedIdToken(app: App, session: SessionData, tokens: TokenSet): void {
  if (!tokens.idToken || !tokens.claims) return
  // the original ID token's own claims (aud and azp are protocol claims, not in `user`); without
  // it (dropped by beforeSessionSaved) iss and sub are still compared
  const before = session.idToken === undefined ? undefined : jwtPayload(session.idToken)
  const after = tokens.claims
  const sameAud = before === undefined || JSON.stringify(before.aud) === JSON.stringify(after.aud)
  const sameAzp = before === undefined || before.azp === after.azp
  const sameIss = app.providers.sameIssuer(after.iss, session.iss)
  if (!sameIss || after.sub !== session.sub || !sameAud || !sameAzp) {
    throw new TokenRefreshError('the refreshed ID token is about another user', 401)
  }
}

/** Provider faults worth another try: no answer or a 5xx, not a refusal, a timeout or a bad answer. */
function retryable(error: unknown): boolean {
  return error instanceof TokenRefreshError && error.retryable
}

/** One refresh grant, retried twice on provider faults (bounded: then 502, or 504 on a timeout). */
async function refreshGrant(
  app: App,
  session: SessionData & { refreshToken: string },
  target: Target,
): Promise<TokenSet> {
  const provider = await app.providers.get(app.providers.ofSession(session))
  for (let attempt = 1; ; attempt++) {
    try {
      return await refreshTokens(provider, session.refreshToken, target.params, session.dpopKey)
    } catch (error) {
      if (attempt >= 3 || !retryable(error)) throw error
      app.report({
        level: 'warn',
        code: 'refresh_retry',
        message: `the token refresh failed (attempt ${attempt}), trying again`,
        error,
      })
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt))
    }
  }
}

/**
 * Refreshes the token `target` of `session` at the provider and returns the session with the new
 * tokens (a response without a new refresh token keeps the old one).
 */
export async function refreshAtProvider(
  app: App,
  session: SessionData,
  target: Target,
): Promise<SessionData> {
  if (!session.refreshToken) throw new TokenRefreshError('no refresh token', 401)
  const tokens = await refreshGrant(app, { ...session, refreshToken: session.refreshToken }, target)
  checkRefreshedIdToken(app, session, tokens)
  // only what is sealed: a `Session` also carries `user` and `endsAt`, derived when it is read;
  // claims the session keeps itself (chosen by beforeSessionSaved, merged with userinfo, or of a
  // session without an ID token) stay what they were, else they come from the new ID token
  const { user, endsAt: _endsAt, ...data } = session as SessionData & Partial<Session>
  const { settings } = app
  const kept =
    session.idToken === undefined ||
    settings.beforeSessionSaved !== undefined ||
    settings.fetchUserinfo
  const common = {
    ...data,
    ...(kept && user !== undefined ? { user } : {}),
    idToken: tokens.idToken ?? session.idToken,
    refreshToken: tokens.refreshToken ?? session.refreshToken,
    updatedAt: epoch(app.settings),
  }
  const token: ExtraToken = {
    accessToken: tokens.accessToken,
    tokenType: tokens.tokenType,
    expiresAt: tokens.expiresAt,
    scope: tokens.scope,
  }
  if (target.key === undefined) return { ...common, ...token, scope: tokens.scope ?? session.scope }
  const others = Object.entries(session.extraTokens ?? {}).filter(([key]) => key !== target.key)
  return {
    ...common,
    extraTokens: Object.fromEntries([
      ...others.slice(-(MAX_EXTRA_TOKENS - 1)),
      [target.key, token],
    ]),
  }
}

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
  type ExtraToken,
  epoch,
  jwtPayload,
  reloadSession,
  type Session,
  type SessionData,
  saveToStore,
  storeSession,
} from './session.js'

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

/** How long a completed refresh is remembered, in seconds. */
const REMEMBER_SECONDS = 3600
/** How long a refresh that failed on a provider fault is not tried again, in milliseconds. */
const FAILURE_MEMORY_MS = 2000
/** The most completed refreshes remembered at once; the oldest are forgotten first. */
const MAX_REMEMBERED = 5000

interface Refreshes {
  /** refreshes under way, by the refresh token they spend */
  readonly inflight: Map<string, Promise<SessionData>>
  /** the last refresh of each session, so that refreshes of one session run one after another */
  readonly queues: Map<string, Promise<unknown>>
  /** refreshes that just failed on a provider fault, by refresh token: not retried for a moment */
  readonly failures: Map<string, { readonly error: unknown; readonly until: number }>
  /** completed refreshes, by the refresh token they spent; insertion order is expiry order */
  readonly recent: Map<string, { readonly next: SessionData; readonly until: number }>
}

// Kept on globalThis: a bundler may load this module twice in one process (Next.js builds its
// proxy and its app separately), and both copies must see the same refreshes.
const REGISTRY = Symbol.for('@codeflow/core.refreshes.v2')

function refreshes(): Refreshes {
  const global = globalThis as { [REGISTRY]?: Refreshes }
  global[REGISTRY] ??= {
    inflight: new Map(),
    recent: new Map(),
    queues: new Map(),
    failures: new Map(),
  }
  return global[REGISTRY]
}

/** Identifies one refresh token of one session (session ids are random, 128 bits). */
function refreshKey(session: SessionData): string | undefined {
  if (session.refreshToken === undefined) return undefined
  return `${session.iss}\n${session.id}\n${session.refreshToken}`
}

function remember(key: string, next: SessionData, now: number): void {
  const { recent } = refreshes()
  for (const [old, entry] of recent) {
    if (entry.until > now && recent.size < MAX_REMEMBERED) break
    recent.delete(old)
  }
  recent.set(key, { next, until: now + REMEMBER_SECONDS })
}

/** The newest session that completed refreshes made from `session`, following rotations. */
function newestSession(session: SessionData, now: number): SessionData {
  let current = session
  for (let step = 0; step < 8; step++) {
    const key = refreshKey(current)
    const entry = key === undefined ? undefined : refreshes().recent.get(key)
    if (!entry || entry.until <= now) break
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

/** Which token a caller wants: the session's own, or one for a resource and/or scope. */
interface Target {
  readonly key: string | undefined
  readonly params: Readonly<Record<string, string>>
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

/** The most extra (resource or scope) tokens one session keeps; the oldest are dropped. */
const MAX_EXTRA_TOKENS = 4

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

/** Provider faults worth another try: a broken response or network error, not a refusal or a timeout. */
function retryable(error: unknown): boolean {
  return error instanceof TokenRefreshError && error.status === 502
}

/** One refresh grant, retried twice on provider faults (bounded: then 502, or 504 on a timeout). */
async function refreshGrant(auth: Auth, refreshToken: string, target: Target): Promise<TokenSet> {
  const provider = await auth.provider.get()
  for (let attempt = 1; ; attempt++) {
    try {
      return await refreshTokens(provider, refreshToken, target.params)
    } catch (error) {
      if (attempt >= 3 || !retryable(error)) throw error
      report(auth.options.logger, {
        level: 'warn',
        code: 'refresh_retry',
        message: `the token refresh failed (attempt ${attempt}), trying again`,
        error,
      })
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt))
    }
  }
}

async function refresh(auth: Auth, session: SessionData, target: Target): Promise<SessionData> {
  if (!session.refreshToken) throw new TokenRefreshError('no refresh token', 401)
  const tokens = await refreshGrant(auth, session.refreshToken, target)
  checkRefreshedIdToken(session, tokens)
  // only what is sealed: a `Session` also carries `user` and `endsAt`, derived when it is read
  const { user: _user, endsAt: _endsAt, ...data } = session as SessionData & Partial<Session>
  const common = {
    ...data,
    idToken: tokens.idToken ?? session.idToken,
    // a response without a new refresh token keeps the old one
    refreshToken: tokens.refreshToken ?? session.refreshToken,
    updatedAt: epoch(auth.options),
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Refreshes across instances when the session lives in a store that can lock: one instance takes
 * a short lock and refreshes, saving the rotated tokens in the store before it lets go; the others
 * wait and read what it saved. Without such a store, refreshes are single-flight per process.
 */
async function refreshShared(
  auth: Auth,
  session: SessionData,
  target: Target,
  done: (candidate: SessionData) => boolean,
): Promise<SessionData> {
  const { store, httpTimeout } = auth.options
  if (!store?.lock) return refresh(auth, session, target)
  // three attempts of httpTimeout each, and their back-off
  const hold = httpTimeout * 3 + 1000
  const deadline = Date.now() + hold
  for (;;) {
    const release = await store.lock(`refresh:${session.id}`, hold)
    if (release) {
      try {
        const latest = await reloadSession(auth.options, session.id)
        if (!latest) throw new TokenRefreshError('the session has ended', 401)
        if (done(latest)) return latest
        const next = await refresh(auth, latest, target)
        await saveToStore(auth.options, next)
        return next
      } finally {
        await release()
      }
    }
    // another instance is refreshing this session: read what it saves
    await sleep(50)
    const latest = await reloadSession(auth.options, session.id)
    if (!latest) throw new TokenRefreshError('the session has ended', 401)
    if (done(latest)) return latest
    if (Date.now() > deadline) {
      throw new TokenRefreshError('another instance did not finish refreshing in time', 504)
    }
  }
}

/**
 * One refresh of `session` for `target` in this process: callers asking for the same share it,
 * and refreshes of one session run one after another (each spends the refresh token the previous
 * one received). Completed refreshes are remembered for callers still holding the old cookie.
 */
function sharedRefresh(
  auth: Auth,
  session: SessionData,
  target: Target,
  done: (candidate: SessionData) => boolean,
): Promise<SessionData> {
  const key = refreshKey(session)
  if (key === undefined) return refresh(auth, session, target)
  const { inflight, queues, failures } = refreshes()
  const flight = `${key}\n${target.key ?? ''}`
  const running = inflight.get(flight)
  if (running) return running
  // a refresh that just failed on a provider fault (after its retries) fails again at once for a
  // moment: a broken provider is not hit again by every request (or by a page after its proxy)
  const failed = failures.get(flight)
  const clock = auth.options.clock
  if (failed && failed.until > clock()) return Promise.reject(localize(failed.error))
  failures.delete(flight)
  const previous = queues.get(session.id) ?? Promise.resolve()
  const started = previous
    .catch(() => undefined)
    .then(() => {
      // a refresh that ran before this one may already have done the work
      const latest = newestSession(session, epoch(auth.options))
      return done(latest) ? latest : refreshShared(auth, latest, target, done)
    })
    .then(
      (next) => {
        remember(key, next, epoch(auth.options))
        return next
      },
      (error: unknown) => {
        if (error instanceof AuthError && error.status >= 500) {
          for (const [old, entry] of failures) if (entry.until <= clock()) failures.delete(old)
          failures.set(flight, { error, until: clock() + FAILURE_MEMORY_MS })
        }
        throw error
      },
    )
    .finally(() => {
      inflight.delete(flight)
      if (queues.get(session.id) === started) queues.delete(session.id)
    })
  inflight.set(flight, started)
  queues.set(session.id, started)
  return started.catch((error: unknown) => {
    throw localize(error)
  })
}

/**
 * The registry is shared through `globalThis` by every copy of this module in the process (Next.js
 * bundles its proxy and its app apart), so an error may come from another copy's `AuthError`:
 * rebuilt here so that `instanceof` checks and the adapters' rendering keep working.
 */
function localize(error: unknown): unknown {
  if (error instanceof AuthError || !(error instanceof Error)) return error
  const { code, status, headers } = error as Partial<AuthError>
  if (typeof code !== 'string' || typeof status !== 'number') return error
  return new AuthError(error.message, code, status, { cause: error, headers: { ...headers } })
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
  const session = await requireSession(auth, ctx)
  let current = newestSession(session, epoch(auth.options))
  const margin = options.refreshMargin ?? auth.options.refreshMargin
  const target = targetOf(options)
  if (options.forceRefresh || !isFresh(tokenOf(current, target), margin, epoch(auth.options))) {
    const stale = tokenOf(current, target)?.accessToken
    // forced: any token other than the one we had; otherwise: a fresh one
    const done = (candidate: SessionData) => {
      const token = tokenOf(candidate, target)
      return options.forceRefresh
        ? token?.accessToken !== stale && token !== undefined
        : isFresh(token, margin, epoch(auth.options))
    }
    try {
      current = await sharedRefresh(auth, current, target, done)
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
  const token = tokenOf(current, target) as ExtraToken
  return {
    token: token.accessToken,
    type: token.tokenType,
    expiresAt: token.expiresAt,
    scope: token.scope,
  }
}

/**
 * Writing a session: sealed into the session cookie (chunked when large), or into the server-side
 * store with a sealed reference in the cookie. The seal and the store entry live as long as the
 * session may.
 */
import type { App } from '../auth.js'
import { epoch } from '../clock.js'
import { SessionTooLargeError } from '../errors.js'
import type { HttpContext } from '../http/context.js'
import { requestState } from '../http/jar.js'
import { UNREAD } from '../http/request-state.js'
import { seal } from '../seal/seal.js'
import { packSession } from './compact.js'
import { ownerOf } from './store.js'
import type { SessionData, UserClaims } from './types.js'
import { claimsOf, sessionEnd } from './view.js'

/** Seconds the seal of `data` must live: what is left of the session, at least one. */
export function lifetime(app: App, data: SessionData, user: UserClaims): number {
  return Math.max(sessionEnd(app.settings, data, user) - epoch(app.settings), 1)
}

/** What unsealing a seal of `payload` returns: its JSON round trip, with the kind member. */
function asUnsealed(payload: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify({ ...payload, k: 'session' })) as Record<string, unknown>
}

/**
 * The most characters of JSON a cookie session may unseal to: what deflated cookies hold is
 * bounded too, so that sessions a provider makes large cannot fill the app's memory through the
 * session cache (10,000 entries).
 */
const MAX_COOKIE_SESSION = 64 * 1024

/**
 * The OpenID Connect standard claims (OIDC Core 5.1) and the session's own: what a session keeps
 * of its claims when all of them do not fit in its cookies.
 */
const STANDARD_CLAIMS = new Set([
  'sub',
  'name',
  'given_name',
  'family_name',
  'middle_name',
  'nickname',
  'preferred_username',
  'profile',
  'picture',
  'website',
  'email',
  'email_verified',
  'gender',
  'birthdate',
  'zoneinfo',
  'locale',
  'phone_number',
  'phone_number_verified',
  'address',
  'updated_at',
  'auth_time',
  'acr',
  'amr',
  'session_expiry',
])

/**
 * What can be left out of a session that does not fit in its cookies, in order: the ID token with
 * the claims that are not standard (what is big: groups, roles), then the extra tokens (a refresh
 * gets them again, at every use from then on). The access and refresh tokens stay: without them
 * the session is useless.
 */
function smaller(
  data: SessionData,
  user: UserClaims,
): { data: SessionData; left: string } | undefined {
  const dropped = Object.keys(user).filter((claim) => !STANDARD_CLAIMS.has(claim))
  if (data.idToken !== undefined || dropped.length > 0) {
    const kept = Object.fromEntries(
      Object.entries(user).filter(([claim]) => STANDARD_CLAIMS.has(claim)),
    )
    const { idToken: _idToken, ...rest } = data
    const claims = dropped.length === 0 ? '' : ` and the claims ${dropped.join(', ')}`
    return {
      data: { ...rest, user: { ...kept, sub: data.sub } as UserClaims },
      left: `the ID token${claims}`,
    }
  }
  if (data.extraTokens === undefined) return undefined
  const { extraTokens: _extra, ...rest } = data
  return { data: rest, left: 'the tokens for other resources and scopes' }
}

/**
 * Seals `data` (whose claims are `user`) into the response's cookies, and into the store when there
 * is one. The next request presents what was just sealed, so it goes into the app's cache as
 * unsealing would return it. A cookie session that does not fit in `session.maxCookieChunks`
 * cookies is kept smaller (see `smaller`) and reported, naming `session.store`; past that, a
 * `SessionTooLargeError` (nothing written).
 */
async function sealInto(
  app: App,
  ctx: HttpContext,
  data: SessionData,
  user: UserClaims,
): Promise<void> {
  const { settings } = app
  const ttl = lifetime(app, data, user)
  const maxAge = settings.persistent ? ttl : undefined
  if (settings.store) {
    const sealed = await seal('session', await packSession(data), settings.sealKeys.session, ttl)
    app.sessions.set(sealed, asUnsealed({ ...data }), settings.sealKeys.session)
    await settings.store.set(data.id, sealed, ttl, ownerOf(data))
    // with what the revocation store is asked about the session, so that the read asks it beside
    // the store's read (one round trip); short names, and the app's own issuer left out: this
    // cookie comes with every request
    const reference = {
      ref: data.id,
      u: data.sub,
      t: data.createdAt,
      ...(typeof data.sid === 'string' ? { s: data.sid } : {}),
      ...(data.iss === settings.issuerName ? {} : { i: data.iss }),
    }
    const value = await seal('session', reference, settings.sealKeys.session, ttl)
    app.sessions.set(value, asUnsealed(reference), settings.sealKeys.session)
    app.cookies.writeSession(ctx, value, maxAge)
    return
  }
  const left: string[] = []
  for (let current = data; ; ) {
    const sealed = await seal('session', await packSession(current), settings.sealKeys.session, ttl)
    // deflated, a session fits in far fewer bytes than it unseals to: both are bounded
    const bounded = JSON.stringify(current).length <= MAX_COOKIE_SESSION
    if (bounded && app.cookies.fitsSession(sealed, maxAge)) {
      app.sessions.set(sealed, asUnsealed({ ...current }), settings.sealKeys.session)
      app.cookies.writeSession(ctx, sealed, maxAge)
      if (left.length > 0) reportSmaller(app, sealed, left)
      return
    }
    const next = smaller(current, current.user ?? user)
    if (!next) throw new SessionTooLargeError(sealed.length, settings.maxCookieChunks)
    left.push(next.left)
    current = next.data
  }
}

function reportSmaller(app: App, sealed: string, left: readonly string[]): void {
  app.report({
    level: 'warn',
    code: 'session_trimmed',
    message:
      `the session did not fit in ${app.settings.maxCookieChunks} cookies ("session.maxCookieChunks") ` +
      `and was kept without ${left.join(', then ')} (${sealed.length} bytes sealed now); set ` +
      '"session.store" (e.g. createRedisStore from @codeflow/redis) to keep sessions whole',
  })
}

/** Writes `data` as the request's session: a read later in this request reads it. */
export async function writeSession(app: App, ctx: HttpContext, data: SessionData): Promise<void> {
  await sealInto(app, ctx, data, claimsOf(data))
  requestState(ctx).session = UNREAD
}

/**
 * Writes again the session this request read (its activity recorded, or resealed with the newest
 * password): the read returns it, so the request's read stands.
 */
export function touchSession(
  app: App,
  ctx: HttpContext,
  data: SessionData,
  user: UserClaims,
): Promise<void> {
  return sealInto(app, ctx, data, user)
}

/**
 * What a verified session payload means: its fields, the user's claims, when it ends, and what the
 * revocation store is asked about it. Derived once per sealed value (the session cache keeps it).
 */
import type { Settings } from '../options.js'
import { userClaims } from '../protocol/claims.js'
import type { CachedSeal } from './cache.js'
import type { RevocationQuery } from './revocation.js'
import type { SessionData, UserClaims } from './types.js'

/** Whether an unsealed payload has the members of a session. */
export function isSessionData(
  data: Readonly<Record<string, unknown>>,
): data is Readonly<Record<string, unknown>> & SessionData {
  return (
    typeof data.id === 'string' &&
    typeof data.iss === 'string' &&
    typeof data.sub === 'string' &&
    (typeof data.idToken === 'string' || (data.idToken === undefined && isObject(data.user))) &&
    typeof data.accessToken === 'string' &&
    typeof data.tokenType === 'string' &&
    typeof data.createdAt === 'number' &&
    typeof data.updatedAt === 'number'
  )
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** The claims of a session: the ones kept by `beforeSessionSaved`, else the ID token's. */
export function claimsOf(data: SessionData): UserClaims {
  if (data.user)
    return { ...Object.fromEntries(Object.entries(data.user)), sub: data.sub } as UserClaims
  return userClaims(data.idToken ?? '', data.sub)
}

/**
 * When a session ends: its absolute end, its idle end (rolling sessions), and the provider's
 * `session_expiry` claim when present, whichever comes first (epoch seconds).
 */
export function sessionEnd(settings: Settings, data: SessionData, user: UserClaims): number {
  let end = data.createdAt + settings.absoluteDuration
  if (settings.idleDuration !== false) end = Math.min(end, data.updatedAt + settings.idleDuration)
  const providerEnd = user.session_expiry
  if (typeof providerEnd === 'number' && Number.isFinite(providerEnd))
    end = Math.min(end, providerEnd)
  return end
}

/** Seconds between two activity writes of a rolling session: a twentieth of the idle time. */
export function touchInterval(settings: Settings): number {
  return settings.idleDuration === false
    ? Number.POSITIVE_INFINITY
    : Math.max(1, Math.floor(settings.idleDuration / 20))
}

/** What a session's sealed value means. */
export interface SessionView {
  /** the payload's session fields (without the seal's kind) */
  readonly fields: SessionData
  /** the user's claims */
  readonly user: UserClaims
  /** when the session ends (absolute, idle and provider lifetimes) */
  readonly endsAt: number
  /** what the revocation store is asked about it */
  readonly query: RevocationQuery
}

/**
 * The view of a verified session payload, derived once per sealed value and kept with its cache
 * entry (one app per cache, so `endsAt` is the same on every read). Throws on claims that cannot
 * be read.
 */
export function viewOf(settings: Settings, entry: CachedSeal, data: SessionData): SessionView {
  if (entry.derived !== undefined) return entry.derived as SessionView
  const { k: _kind, ...fields } = data as SessionData & { readonly k?: unknown }
  const user = Object.freeze(claimsOf(data))
  const view: SessionView = Object.freeze({
    fields: Object.freeze(fields as SessionData),
    user,
    endsAt: sessionEnd(settings, data, user),
    query: Object.freeze({
      id: data.id,
      iss: data.iss,
      sub: data.sub,
      sid: typeof data.sid === 'string' ? data.sid : undefined,
      createdAt: data.createdAt,
    }),
  })
  entry.derived = view
  return view
}

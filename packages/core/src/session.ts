/**
 * Sessions sealed with iron-session: into cookies (chunked when large), or into a server-side
 * store with a sealed reference in the cookie. The absolute, idle and provider lifetimes are
 * enforced from timestamps inside the seal, not only by the cookie's expiry. A tampered,
 * truncated, expired or foreign cookie reads as "no session" and is reported to the logger; a
 * store that fails is a 503. A cookie sealed with a retired password is resealed with the newest.
 * A session that a logout revoked (back-channel, front-channel, or a copy of a logged-out cookie)
 * reads as anonymous: every read asks the revocation store once.
 *
 * The hot path: unsealed payloads are cached per app by their exact sealed value
 * (session-cache.ts), so a cookie seen before is not unsealed again; every other check still runs
 * on every read (lifetimes, revocation, the store's current value, touches and reseals). A cookie
 * session whose payload is cached, with the memory revocation store, awaits nothing; with a Redis
 * revocation store or a session store, those lookups stay one round trip each per request.
 */
import type { Auth } from './auth.js'
import { forget, type HttpContext, memo, requestCookies, writeCookies } from './context.js'
import { chunkCookieNames, chunkValue, deletionCookie, readChunked } from './cookies.js'
import { AuthError, SessionStoreError, SessionTooLargeError } from './errors.js'
import { report } from './logger.js'
import type { ResolvedOptions } from './options.js'
import type { RevocationQuery } from './revocation.js'
import { newestId, seal, sealPasswordId, unseal } from './seal.js'
import { type CachedSeal, sessionCacheOf } from './session-cache.js'

/** The claims about the signed-in user, from the ID token (protocol claims removed). */
export type UserClaims = Readonly<Record<string, unknown>> & { readonly sub: string }

/** What is sealed into the session cookie. */
export interface SessionData {
  /** the session's own id, new at every login */
  readonly id: string
  /** the issuer that authenticated the user */
  readonly iss: string
  /** the user's subject identifier at that issuer */
  readonly sub: string
  /** the provider's session id (`sid` claim), for logout */
  readonly sid?: string | undefined
  /** the ID token, for `id_token_hint` at logout; absent when `beforeSessionSaved` dropped it */
  readonly idToken?: string | undefined
  /** the user's claims when `beforeSessionSaved` chose them; otherwise read from the ID token */
  readonly user?: UserClaims | undefined
  readonly accessToken: string
  readonly tokenType: string
  /** when the access token expires, epoch seconds */
  readonly expiresAt?: number | undefined
  readonly refreshToken?: string | undefined
  readonly scope?: string | undefined
  /** tokens for other resources or scopes (`getAccessToken` with `resource`/`scope`), by target */
  readonly extraTokens?: Readonly<Record<string, ExtraToken>> | undefined
  /** when the user logged in, epoch seconds */
  readonly createdAt: number
  /** when the session was last written (its last recorded activity), epoch seconds */
  readonly updatedAt: number
}

/** An access token kept beside the session's own, for another resource or scope. */
export interface ExtraToken {
  readonly accessToken: string
  readonly tokenType: string
  readonly expiresAt: number | undefined
  readonly scope: string | undefined
}

/** A signed-in user's session, as the app sees it. */
export interface Session extends SessionData {
  /** the user's claims */
  readonly user: UserClaims
  /** when the session ends unless activity extends it (rolling), epoch seconds */
  readonly endsAt: number
}

/** Claims that describe the token rather than the user; left out of `user`. */
const PROTOCOL_CLAIMS = new Set([
  'iss',
  'aud',
  'azp',
  'exp',
  'iat',
  'nbf',
  'jti',
  'nonce',
  'at_hash',
  'c_hash',
  's_hash',
  'sid',
])

const SESSION_KEY = Symbol('codeflow.session')

/** Now, in epoch seconds, by the app's clock. */
export function epoch(options: { readonly clock: () => number }): number {
  return Math.floor(options.clock() / 1000)
}

/** A fresh random identifier (128 bits, base64url). */
export function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** Decodes the payload of a JWT whose signature was verified when it was received. */
export function jwtPayload(jwt: string): Record<string, unknown> {
  const part = jwt.split('.')[1] ?? ''
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/')
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4))
  const json = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)))
  const payload: unknown = JSON.parse(json)
  return payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>) : {}
}

/** The user claims of an ID token: `Object.fromEntries` defines keys, so `__proto__` stays data. */
export function userClaims(idToken: string, sub: string): UserClaims {
  const entries = Object.entries(jwtPayload(idToken)).filter(([key]) => !PROTOCOL_CLAIMS.has(key))
  return { ...Object.fromEntries(entries), sub } as UserClaims
}

function isSessionData(
  data: Record<string, unknown>,
): data is Record<string, unknown> & SessionData {
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

/**
 * When a session ends: its absolute end, its idle end (rolling sessions), and the provider's
 * `session_expiry` claim when present, whichever comes first (epoch seconds).
 */
export function sessionEnd(options: ResolvedOptions, data: SessionData, user: UserClaims): number {
  let end = data.createdAt + options.absoluteDuration
  if (options.idleDuration !== false) end = Math.min(end, data.updatedAt + options.idleDuration)
  const providerEnd = user.session_expiry
  if (typeof providerEnd === 'number' && Number.isFinite(providerEnd))
    end = Math.min(end, providerEnd)
  return end
}

/** The claims of a session: the ones kept by `beforeSessionSaved`, else the ID token's. */
function claimsOf(data: SessionData): UserClaims {
  if (data.user)
    return { ...Object.fromEntries(Object.entries(data.user)), sub: data.sub } as UserClaims
  return userClaims(data.idToken ?? '', data.sub)
}

type Rejected = (reason: string, error?: unknown) => void

/** A verified session payload and whether a retired (older) password sealed it. */
interface Sealed {
  readonly entry: CachedSeal
  readonly stale: boolean
}

/**
 * Unseals a session payload through the app's cache: a value seen before (and still within its
 * seal's expiry, under a password still configured) is not unsealed again. Synchronous on a hit.
 */
function unsealCached(
  options: ResolvedOptions,
  value: string,
  rejected: Rejected,
): CachedSeal | undefined | Promise<CachedSeal | undefined> {
  const cache = sessionCacheOf(options)
  const hit = cache.get(value, options.passwords)
  if (hit) return hit
  return unseal('session', value, options.passwords, rejected).then((payload) =>
    payload
      ? (cache.set(value, payload, options.passwords) ?? uncached(payload, value))
      : undefined,
  )
}

/** A payload that could not be cached (not expected from codeflow's own seals). */
function uncached(payload: Record<string, unknown>, value: string): CachedSeal {
  return {
    value,
    payload,
    passwordId: sealPasswordId(value) ?? '',
    password: '',
    expires: 0,
    derived: undefined,
    used: false,
  }
}

/**
 * Reads the session's sealed data: from the cookie itself, or through the cookie's sealed
 * reference from the server-side store. Returns the data and whether it was sealed with a retired
 * (older) password, so that the caller reseals it. Synchronous for a cookie session whose value is
 * cached; with a store, the store is read on every request (a logout elsewhere deletes the value),
 * and only the two unseals (the reference and the stored value) come from the cache.
 */
function readSealed(
  options: ResolvedOptions,
  value: string,
  rejected: Rejected,
): Sealed | undefined | Promise<Sealed | undefined> {
  const cookie = unsealCached(options, value, rejected)
  if (cookie instanceof Promise)
    return cookie.then((entry) => entry && fromCookie(options, entry, rejected))
  return cookie && fromCookie(options, cookie, rejected)
}

function fromCookie(
  options: ResolvedOptions,
  cookie: CachedSeal,
  rejected: Rejected,
): Sealed | undefined | Promise<Sealed | undefined> {
  const refuse = (reason: string): undefined => {
    rejected(reason)
    return undefined
  }
  const newest = newestId(options.passwords)
  const stale = cookie.passwordId !== newest
  const { ref } = cookie.payload
  if (!options.store) {
    if (typeof ref === 'string') return refuse('a store reference without a store')
    return { entry: cookie, stale }
  }
  if (typeof ref !== 'string') return refuse('a cookie session while a store is configured')
  return fromStore(options, ref, stale, newest, rejected)
}

async function fromStore(
  options: ResolvedOptions,
  ref: string,
  stale: boolean,
  newest: string,
  rejected: Rejected,
): Promise<Sealed | undefined> {
  // a store failure is a 503 (SessionStoreError), never a silent anonymous request
  const stored = await options.store?.get(ref)
  if (stored === undefined) {
    rejected('not in the store (ended or expired)')
    return undefined
  }
  const entry = await unsealCached(options, stored, rejected)
  if (!entry || entry.payload.id !== ref) {
    rejected('store value does not match')
    return undefined
  }
  return { entry, stale: stale || entry.passwordId !== newest }
}

/** What a session's sealed value means, derived once per value (the cache keeps it). */
interface SessionView {
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
 * The session fields, claims and end of a verified payload: derived once per sealed value and
 * kept with its cache entry (one app configuration per cache, so `endsAt` is the same on every
 * read). Throws on claims that cannot be read.
 */
function viewOf(options: ResolvedOptions, entry: CachedSeal, data: SessionData): SessionView {
  if (entry.derived !== undefined) return entry.derived as SessionView
  const { k: _kind, ...fields } = data as SessionData & { readonly k?: unknown }
  const user = Object.freeze(claimsOf(data))
  const view: SessionView = Object.freeze({
    fields: Object.freeze(fields as SessionData),
    user,
    endsAt: sessionEnd(options, data, user),
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

const rejecters = new WeakMap<ResolvedOptions, Rejected>()

/** What reports a refused session cookie to the app's logger (one per configuration). */
function rejecterOf(options: ResolvedOptions): Rejected {
  let rejected = rejecters.get(options)
  if (!rejected) {
    rejected = (reason, error) =>
      report(options.logger, {
        level: reason === 'expired' ? 'debug' : 'warn',
        code: 'session_cookie_rejected',
        message: `a session cookie was rejected (${reason}); the request is anonymous`,
        error,
      })
    rejecters.set(options, rejected)
  }
  return rejected
}

function readSession(
  ctx: HttpContext,
  options: ResolvedOptions,
): Session | undefined | Promise<Session | undefined> {
  const value = readChunked(requestCookies(ctx), options.sessionCookieName, options.maxCookieChunks)
  if (value === undefined) return undefined
  const rejected = rejecterOf(options)
  const sealed = readSealed(options, value, rejected)
  if (sealed instanceof Promise)
    return sealed.then((found) => found && checkSession(ctx, options, found, rejected))
  return sealed && checkSession(ctx, options, sealed, rejected)
}

/**
 * The checks of every read, cached payload or not: shape, lifetimes (absolute, idle, provider),
 * revocation; then the rolling touch or the rotation reseal. Synchronous when nothing needs I/O
 * (a revocation store that answers synchronously, no write due).
 */
function checkSession(
  ctx: HttpContext,
  options: ResolvedOptions,
  sealed: Sealed,
  rejected: Rejected,
): Session | undefined | Promise<Session | undefined> {
  const { entry, stale } = sealed
  const data = entry.payload
  if (!isSessionData(data)) {
    rejected('malformed')
    return undefined
  }
  let view: SessionView
  try {
    view = viewOf(options, entry, data)
  } catch (error) {
    rejected('malformed', error)
    return undefined
  }
  const now = epoch(options)
  if (now >= view.endsAt) {
    rejected('expired')
    return options.store ? options.store.delete(data.id).then(() => undefined) : undefined
  }
  const revoked = isRevoked(options, view.query)
  if (revoked instanceof Promise)
    return revoked.then((yes) => afterRevocation(ctx, options, view, stale, now, yes))
  return afterRevocation(ctx, options, view, stale, now, revoked)
}

function afterRevocation(
  ctx: HttpContext,
  options: ResolvedOptions,
  view: SessionView,
  stale: boolean,
  now: number,
  revoked: boolean,
): Session | undefined | Promise<Session | undefined> {
  const { fields, endsAt } = view
  if (revoked) {
    report(options.logger, {
      level: 'info',
      code: 'session_revoked',
      message: 'the session was ended by a logout; the request is anonymous',
    })
    return options.store ? options.store.delete(fields.id).then(() => undefined) : undefined
  }
  // a copy of the claims: an app that adds a member to `session.user` changes its request only
  const user = { ...view.user }
  // rolling sessions: record activity, at most every touchInterval seconds (writing on every
  // request would cost a seal per request); a retired password: reseal with the newest
  if (
    stale ||
    (options.idleDuration !== false && now - fields.updatedAt >= touchInterval(options))
  ) {
    const touched = { ...fields, updatedAt: now }
    return writeSession(ctx, options, touched, user).then(() => ({
      ...touched,
      user,
      endsAt: sessionEnd(options, touched, user),
    }))
  }
  return { ...fields, user, endsAt }
}

/**
 * Whether a logout (back-channel, front-channel, or a local logout of a copy of this cookie) ended
 * the session: one lookup in the revocation store. A store that fails is a 503, never a session.
 */
function isRevoked(options: ResolvedOptions, query: RevocationQuery): boolean | Promise<boolean> {
  const store = options.revocationStore
  try {
    // the memory store answers synchronously: no await on the hot path
    if (store.isRevokedNow) return store.isRevokedNow(query)
    return store.isRevoked(query).catch(revocationFailure)
  } catch (error) {
    return revocationFailure(error)
  }
}

function revocationFailure(error: unknown): never {
  if (error instanceof AuthError) throw error
  throw new SessionStoreError('the revocation store is unavailable, try again shortly', {
    cause: error,
  })
}

/** Seconds between two activity writes of a rolling session: a twentieth of the idle time. */
function touchInterval(options: ResolvedOptions): number {
  return options.idleDuration === false
    ? Number.POSITIVE_INFINITY
    : Math.max(1, Math.floor(options.idleDuration / 20))
}

/**
 * The request's session, or `undefined` when anonymous; read once per request. Synchronous when
 * the read needs no I/O (a cached cookie session, a memory revocation store, no write due): the
 * hot path awaits nothing. May throw (a failing store) as well as reject.
 */
export function currentSession(
  ctx: HttpContext,
  options: ResolvedOptions,
): Session | undefined | Promise<Session | undefined> {
  return memo(ctx, SESSION_KEY, () => readSession(ctx, options))
}

/** The request's session, or `undefined` when anonymous, as a promise. Read once per request. */
export function loadSession(
  ctx: HttpContext,
  options: ResolvedOptions,
): Promise<Session | undefined> {
  try {
    const session = currentSession(ctx, options)
    return session instanceof Promise ? session : Promise.resolve(session)
  } catch (error) {
    return Promise.reject(error)
  }
}

/** Writes the session cookie(s) (and the store's value), deleting chunks no longer used. */
async function writeSession(
  ctx: HttpContext,
  options: ResolvedOptions,
  data: SessionData,
  user: UserClaims,
): Promise<void> {
  const remaining = sessionEnd(options, data, user) - epoch(options)
  const ttl = Math.max(remaining, 1)
  const payload = { ...data }
  const sealedData = await seal('session', payload, options.passwords, ttl)
  // the next request presents what was just sealed: remember it, as unsealing would return it
  const cache = sessionCacheOf(options)
  cache.set(sealedData, asUnsealed(payload), options.passwords)
  let value = sealedData
  if (options.store) {
    await options.store.set(data.id, sealedData, ttl)
    const reference = { ref: data.id }
    value = await seal('session', reference, options.passwords, ttl)
    cache.set(value, asUnsealed(reference), options.passwords)
  }
  const name = options.sessionCookieName
  const maxAge = options.persistent ? ttl : undefined
  const chunks = chunkValue(name, value, options.secure, maxAge, options.maxCookieChunks)
  if (!chunks) throw new SessionTooLargeError(value.length, options.maxCookieChunks)
  const written = new Set(chunks.map((cookie) => cookie.name))
  const stale = chunkCookieNames(requestCookies(ctx), name).filter((n) => !written.has(n))
  writeCookies(ctx, [...stale.map((n) => deletionCookie(n, options.secure)), ...chunks])
}

/** What unsealing a seal of `payload` returns: its JSON round trip, with the kind member. */
function asUnsealed(payload: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify({ ...payload, k: 'session' })) as Record<string, unknown>
}

/** Seals `data` into the store under its id (no cookie): what other instances then read. */
export async function saveToStore(options: ResolvedOptions, data: SessionData): Promise<void> {
  if (!options.store) return
  const ttl = Math.max(sessionEnd(options, data, claimsOf(data)) - epoch(options), 1)
  await options.store.set(data.id, await seal('session', { ...data }, options.passwords, ttl), ttl)
}

/**
 * The session `id` as the store holds it now (another instance may have refreshed it), or
 * `undefined` when it is gone or there is no store.
 */
export async function reloadSession(
  options: ResolvedOptions,
  id: string,
): Promise<SessionData | undefined> {
  const stored = await options.store?.get(id)
  if (stored === undefined) return undefined
  const data = await unseal('session', stored, options.passwords, () => undefined)
  if (!data || !isSessionData(data) || data.id !== id) return undefined
  const { k: _kind, ...fields } = data
  return fields as unknown as SessionData
}

/**
 * Seals `data` into the session cookie(s), or into the store with a sealed reference in the
 * cookie; chunked when needed. Throws `SessionTooLargeError` past the chunk cap.
 */
export async function storeSession(
  ctx: HttpContext,
  options: ResolvedOptions,
  data: SessionData,
): Promise<void> {
  await writeSession(ctx, options, data, claimsOf(data))
  forget(ctx, SESSION_KEY)
}

/**
 * Ends the request's session: deletes the cookie and its chunks, and its data in the store (so a
 * copied cookie is dead afterwards).
 */
export async function clearSession(ctx: HttpContext, options: ResolvedOptions): Promise<void> {
  if (options.store) {
    const value = readChunked(
      requestCookies(ctx),
      options.sessionCookieName,
      options.maxCookieChunks,
    )
    const cookie =
      value === undefined
        ? undefined
        : (await unsealCached(options, value, () => undefined))?.payload
    if (typeof cookie?.ref === 'string') await options.store.delete(cookie.ref)
  }
  const names = chunkCookieNames(requestCookies(ctx), options.sessionCookieName)
  writeCookies(
    ctx,
    names.map((n) => deletionCookie(n, options.secure)),
  )
  forget(ctx, SESSION_KEY)
}

/** The request's session, or `undefined` when the request is anonymous. */
export function getSession(auth: Auth, ctx: HttpContext): Promise<Session | undefined> {
  return loadSession(ctx, auth.options)
}

/**
 * `getSession` for adapters: the session itself (or `undefined`) when the read needed no I/O, so
 * that the hot path awaits nothing; otherwise a promise. May throw as well as reject.
 */
export function getSessionNow(
  auth: Auth,
  ctx: HttpContext,
): Session | undefined | Promise<Session | undefined> {
  return currentSession(ctx, auth.options)
}

/**
 * Ends the local session: deletes its cookie(s) (at once, before the promise settles), and its
 * data in the server-side store; a cookie session's id is revoked too, so that a copy of the
 * cookie is dead as well. A revocation store that fails is reported (`session_revocation_failed`);
 * the session is ended in this browser all the same.
 */
export function destroySession(auth: Auth, ctx: HttpContext): Promise<void> {
  const { options } = auth
  // read (synchronously started) before its cookies go; a store's data is deleted instead, and a
  // session that cannot be read is not one to revoke
  const current = options.store ? undefined : loadSession(ctx, options).catch(() => undefined)
  const cleared = clearSession(ctx, options)
  const revoked = current?.then((session) => session && revokeSession(options, session))
  return Promise.all([cleared, revoked]).then(() => undefined)
}

/**
 * Remembers that a cookie session ended here (logout, `destroySession`), so that a copy of its
 * cookie is dead too; with a server-side store, deleting the data does that. A failure is reported;
 * the caller goes on.
 */
export async function revokeSession(options: ResolvedOptions, session: Session): Promise<void> {
  if (options.store) return
  try {
    await options.revocationStore.revoke(
      { iss: session.iss, id: session.id },
      Math.max(1, session.endsAt - epoch(options)) + options.clockTolerance,
    )
  } catch (error) {
    report(options.logger, {
      level: 'warn',
      code: 'session_revocation_failed',
      message: 'the end of the session could not be recorded in the revocation store',
      error,
    })
  }
}

/**
 * Sessions sealed into cookies with iron-session, chunked when large. The absolute lifetime is
 * enforced from the timestamp inside the seal, not only by the cookie's expiry. A tampered,
 * truncated, expired or foreign cookie reads as "no session" and is reported to the logger.
 */
import type { Auth } from './auth.js'
import { forget, type HttpContext, memo, requestCookies, writeCookies } from './context.js'
import { chunkCookieNames, chunkValue, deletionCookie, readChunked } from './cookies.js'
import { SessionTooLargeError } from './errors.js'
import { report } from './logger.js'
import type { ResolvedOptions } from './options.js'
import { seal, unseal } from './seal.js'

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
  readonly idToken: string
  readonly accessToken: string
  readonly tokenType: string
  /** when the access token expires, epoch seconds */
  readonly expiresAt?: number | undefined
  readonly refreshToken?: string | undefined
  readonly scope?: string | undefined
  /** when the user logged in, epoch seconds */
  readonly createdAt: number
  /** when the session was last written, epoch seconds */
  readonly updatedAt: number
}

/** A signed-in user's session, as the app sees it. */
export interface Session extends SessionData {
  /** the user's claims */
  readonly user: UserClaims
  /** when the session ends whatever happens, epoch seconds */
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

/** Now, in epoch seconds. */
export function epoch(): number {
  return Math.floor(Date.now() / 1000)
}

/** A fresh random identifier (128 bits, base64url). */
export function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** Decodes the payload of a JWT whose signature was verified when it was received. */
function jwtPayload(jwt: string): Record<string, unknown> {
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
    typeof data.idToken === 'string' &&
    typeof data.accessToken === 'string' &&
    typeof data.tokenType === 'string' &&
    typeof data.createdAt === 'number' &&
    typeof data.updatedAt === 'number'
  )
}

async function readSession(
  ctx: HttpContext,
  options: ResolvedOptions,
): Promise<Session | undefined> {
  const value = readChunked(requestCookies(ctx), options.sessionCookieName, options.maxCookieChunks)
  if (value === undefined) return undefined
  const rejected = (reason: string, error?: unknown) =>
    report(options.logger, {
      level: reason === 'expired' ? 'debug' : 'warn',
      code: 'session_cookie_rejected',
      message: `a session cookie was rejected (${reason}); the request is anonymous`,
      error,
    })
  const data = await unseal('session', value, options.passwords, rejected)
  if (!data) return undefined
  if (!isSessionData(data)) {
    rejected('malformed')
    return undefined
  }
  const endsAt = data.createdAt + options.absoluteDuration
  if (epoch() >= endsAt) {
    rejected('expired')
    return undefined
  }
  let user: UserClaims
  try {
    user = userClaims(data.idToken, data.sub)
  } catch (error) {
    rejected('malformed', error)
    return undefined
  }
  const { k: _kind, ...fields } = data
  return { ...(fields as SessionData), user, endsAt }
}

/** The request's session, or `undefined` when anonymous. Read once per request. */
export function loadSession(
  ctx: HttpContext,
  options: ResolvedOptions,
): Promise<Session | undefined> {
  return memo(ctx, SESSION_KEY, () => readSession(ctx, options))
}

/**
 * Seals `data` into the session cookie(s), chunked when needed, and deletes chunks the previous
 * session had beyond the new count. Throws `SessionTooLargeError` past the chunk cap.
 */
export async function storeSession(
  ctx: HttpContext,
  options: ResolvedOptions,
  data: SessionData,
): Promise<void> {
  const remaining = data.createdAt + options.absoluteDuration - epoch()
  const value = await seal('session', { ...data }, options.passwords, Math.max(remaining, 1))
  const name = options.sessionCookieName
  const chunks = chunkValue(name, value, options.secure, remaining, options.maxCookieChunks)
  if (!chunks) throw new SessionTooLargeError(value.length, options.maxCookieChunks)
  const written = new Set(chunks.map((cookie) => cookie.name))
  const stale = chunkCookieNames(requestCookies(ctx), name).filter((n) => !written.has(n))
  writeCookies(ctx, [...stale.map((n) => deletionCookie(n, options.secure)), ...chunks])
  forget(ctx, SESSION_KEY)
}

/** Deletes the session cookie and all its chunks. */
export function clearSession(ctx: HttpContext, options: ResolvedOptions): void {
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

/** Ends the local session: deletes its cookie(s) in the response. */
export function destroySession(auth: Auth, ctx: HttpContext): void {
  clearSession(ctx, auth.options)
}

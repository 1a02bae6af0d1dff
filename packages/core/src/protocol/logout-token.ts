/**
 * Validation of back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.6), with
 * `jose` (openid-client does not validate them), against the provider's key set (`keys.ts`).
 */
import { decodeJwt, decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from 'jose'
import { AuthError, LogoutTokenError } from '../errors.js'
import type { Settings } from '../options.js'
import type { Provider } from './provider.js'

/** The event a logout token must carry (BCL 1.0 §2.4). */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'

/** The longest logout token accepted, in characters. */
export const MAX_LOGOUT_TOKEN_LENGTH = 8192

/**
 * How old a logout token may be (from its `iat`), in seconds, clock tolerance aside: BCL 1.0 §2.6
 * lets the RP reject old tokens, and it bounds how long `jti`s must be remembered.
 */
export const MAX_LOGOUT_TOKEN_AGE = 600

/** The claims of a valid logout token. */
export interface LogoutTokenClaims {
  readonly iss: string
  readonly jti: string
  readonly iat: number
  readonly exp: number | undefined
  readonly sid: string | undefined
  readonly sub: string | undefined
}

/**
 * Whether a JOSE `typ` is one a logout token may carry: its media type (RFC 8725 §3.11, BCL 1.0
 * §2.4), or the generic `JWT` that providers such as Keycloak send (explicit typing is only
 * RECOMMENDED, so `JWT` counts as untyped); any case, with or without `application/`.
 */
function isLogoutTyp(typ: string): boolean {
  const type = typ.toLowerCase().replace(/^application\//, '')
  return type === 'logout+jwt' || type === 'jwt'
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function optionalId(payload: JWTPayload, claim: 'sid' | 'sub'): string | undefined {
  const value = payload[claim]
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length === 0 || value.length > 255) {
    throw new LogoutTokenError(`"${claim}" must be a non-empty string`)
  }
  return value
}

/** Maps what jose throws to a 400 that says which check failed; key set faults stay 503. */
function rejection(error: unknown): AuthError {
  if (error instanceof AuthError) return error
  if (error instanceof errors.JWTClaimValidationFailed || error instanceof errors.JWTExpired) {
    return new LogoutTokenError(`invalid logout token: ${error.message}`, { cause: error })
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return new LogoutTokenError('invalid logout token: "alg" not allowed', { cause: error })
  }
  if (
    error instanceof errors.JWSSignatureVerificationFailed ||
    error instanceof errors.JWKSNoMatchingKey ||
    error instanceof errors.JWKSMultipleMatchingKeys
  ) {
    return new LogoutTokenError('invalid logout token: signature verification failed', {
      cause: error,
    })
  }
  return new LogoutTokenError('malformed logout token', { cause: error })
}

/**
 * The issuer and audience a logout token claims, not yet verified: they say which provider's keys
 * and client verify it (`verifyLogoutToken`). A 400 when it is no JWT with a string `iss`.
 */
export function claimedIssuer(token: string): { iss: string; aud: unknown } {
  if (token.length === 0) throw new LogoutTokenError('"logout_token" is empty')
  if (token.length > MAX_LOGOUT_TOKEN_LENGTH) {
    throw new LogoutTokenError('"logout_token" is too long')
  }
  let payload: JWTPayload
  try {
    payload = decodeJwt(token)
  } catch (error) {
    throw new LogoutTokenError('malformed logout token', { cause: error })
  }
  if (typeof payload.iss !== 'string') {
    throw new LogoutTokenError('invalid logout token: "iss" must be a string')
  }
  return { iss: payload.iss, aud: payload.aud }
}

/**
 * Validates a logout token per BCL 1.0 §2.6: the signature with the provider's keys and the one
 * pinned algorithm (never `none` or HMAC); `iss` is the provider's issuer; `aud` contains our
 * client id; `iat` is present, not in the future and not older than {@link MAX_LOGOUT_TOKEN_AGE};
 * `exp`, when present, has not passed; `typ`, when present, is `logout+jwt` (or `JWT`); `events` holds the
 * back-channel logout event; there is no `nonce`; there is a `jti`, and a `sid` or a `sub`.
 * Throws `LogoutTokenError` (400), or a 503 when the keys cannot be fetched. Replays are the
 * caller's to reject (it remembers `jti`s).
 */
export async function verifyLogoutToken(
  provider: Provider,
  settings: Settings,
  token: string,
): Promise<LogoutTokenClaims> {
  if (token.length === 0) throw new LogoutTokenError('"logout_token" is empty')
  if (token.length > MAX_LOGOUT_TOKEN_LENGTH)
    throw new LogoutTokenError('"logout_token" is too long')
  let payload: JWTPayload
  try {
    // checked before any key lookup, as jose checks "alg" (pinned below) before it looks a key up
    const header = decodeProtectedHeader(token)
    if (header.typ !== undefined && (typeof header.typ !== 'string' || !isLogoutTyp(header.typ))) {
      throw new LogoutTokenError('invalid logout token: "typ" must be "logout+jwt" or "JWT"')
    }
    if (typeof provider.keys === 'string') throw new LogoutTokenError(provider.keys)
    const verified = await jwtVerify(token, provider.keys.key, {
      issuer: provider.issuer,
      audience: settings.clientId,
      algorithms: [provider.signingAlg],
      clockTolerance: settings.clockTolerance,
      currentDate: new Date(settings.clock()),
      // also requires `iat` and refuses one in the future (beyond the tolerance)
      maxTokenAge: MAX_LOGOUT_TOKEN_AGE,
      requiredClaims: ['iat', 'jti', 'events'],
    })
    payload = verified.payload
  } catch (error) {
    throw rejection(error)
  }
  const events = payload.events
  if (!isObject(events) || !isObject(events[BACKCHANNEL_LOGOUT_EVENT])) {
    throw new LogoutTokenError(`"events" must hold "${BACKCHANNEL_LOGOUT_EVENT}"`)
  }
  if (payload.nonce !== undefined) throw new LogoutTokenError('a logout token has no "nonce"')
  const sid = optionalId(payload, 'sid')
  const sub = optionalId(payload, 'sub')
  if (sid === undefined && sub === undefined) {
    throw new LogoutTokenError('a logout token needs "sid" or "sub"')
  }
  const { jti } = payload
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 255) {
    throw new LogoutTokenError('"jti" must be a non-empty string')
  }
  return {
    iss: provider.issuer,
    jti,
    iat: payload.iat as number,
    exp: payload.exp,
    sid,
    sub,
  }
}

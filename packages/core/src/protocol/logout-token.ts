/**
 * Validation of back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.6), with
 * `jose`, the only module that imports it: openid-client does not validate them. The provider's
 * keys come from its jwks_uri through one cached key set per discovered provider: an unknown `kid`
 * refetches it at most once per cooldown, and a failed fetch is not retried before the cooldown
 * ends either, so a flood of junk tokens cannot turn into a flood of JWKS requests.
 */
import {
  createRemoteJWKSet,
  customFetch,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose'
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

/** Milliseconds between two fetches of the key set, whatever the tokens ask for. */
const JWKS_COOLDOWN = 30_000
/** Milliseconds a fetched key set is used before it is fetched again. */
const JWKS_MAX_AGE = 10 * 60_000

/** The claims of a valid logout token. */
export interface LogoutTokenClaims {
  readonly iss: string
  readonly jti: string
  readonly iat: number
  readonly exp: number | undefined
  readonly sid: string | undefined
  readonly sub: string | undefined
}

/** The provider's key set could not be fetched (or is cooling down after a failure). */
class KeySetUnavailableError extends AuthError {
  constructor(options?: { cause?: unknown }) {
    super(
      "the identity provider's signing keys are unavailable, try again shortly",
      'temporarily_unavailable',
      503,
      { ...options, headers: { 'Retry-After': String(JWKS_COOLDOWN / 1000) } },
    )
  }
}

/**
 * The key set of one app's provider: jose's remote set (cached, refetched for an unknown `kid` at
 * most once per cooldown) behind a fetch that, after a failure, refuses to fetch again until the
 * cooldown has passed. A provider discovered anew (after a failed discovery) gets a new set.
 */
export class LogoutKeys {
  #current: { readonly provider: Provider; readonly keys: JWTVerifyGetKey } | undefined

  /** The key set of `provider`. */
  of(provider: Provider, settings: Settings): JWTVerifyGetKey {
    if (this.#current?.provider === provider) return this.#current.keys
    const keys = remoteKeySet(provider, settings)
    this.#current = { provider, keys }
    return keys
  }
}

function remoteKeySet(provider: Provider, settings: Settings): JWTVerifyGetKey {
  if (provider.jwksUri === undefined) {
    throw new LogoutTokenError('the identity provider publishes no jwks_uri to verify it with')
  }
  const url = new URL(provider.jwksUri)
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && settings.allowInsecureRequests)) {
    throw new LogoutTokenError("the identity provider's jwks_uri is not https")
  }
  let retryAt = 0
  const guardedFetch = async (input: string, init: RequestInit): Promise<Response> => {
    if (Date.now() < retryAt) throw new KeySetUnavailableError()
    try {
      const response = await fetch(input, init)
      if (response.status !== 200) {
        await response.body?.cancel()
        throw new Error(`the jwks_uri answered ${response.status}`)
      }
      return response
    } catch (cause) {
      retryAt = Date.now() + JWKS_COOLDOWN
      throw new KeySetUnavailableError({ cause })
    }
  }
  return createRemoteJWKSet(url, {
    timeoutDuration: settings.httpTimeout,
    cooldownDuration: JWKS_COOLDOWN,
    cacheMaxAge: JWKS_MAX_AGE,
    [customFetch]: guardedFetch,
  })
}

/** Whether a JOSE `typ` names the logout token media type (RFC 8725 §3.11, BCL 1.0 §2.4). */
function isLogoutTyp(typ: string): boolean {
  const type = typ.toLowerCase()
  return type === 'logout+jwt' || type === 'application/logout+jwt'
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
  if (error instanceof errors.JWKSTimeout) return new KeySetUnavailableError({ cause: error })
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
 * Validates a logout token per BCL 1.0 §2.6: the signature with the provider's keys and the one
 * pinned algorithm (never `none` or HMAC); `iss` is the provider's issuer; `aud` contains our
 * client id; `iat` is present, not in the future and not older than {@link MAX_LOGOUT_TOKEN_AGE};
 * `exp`, when present, has not passed; `typ`, when present, is `logout+jwt`; `events` holds the
 * back-channel logout event; there is no `nonce`; there is a `jti`, and a `sid` or a `sub`.
 * Throws `LogoutTokenError` (400), or a 503 when the keys cannot be fetched. Replays are the
 * caller's to reject (it remembers `jti`s).
 */
export async function verifyLogoutToken(
  provider: Provider,
  settings: Settings,
  keys: LogoutKeys,
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
      throw new LogoutTokenError('invalid logout token: "typ" must be "logout+jwt"')
    }
    const verified = await jwtVerify(token, keys.of(provider, settings), {
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

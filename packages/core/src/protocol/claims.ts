/** What codeflow reads from a JWT whose signature was verified when it was received. */
import type { UserClaims } from '../session/types.js'
import { decodeBase64urlText } from './base64url.js'

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

/** The payload of a JWT (verified when it was received), as an object. */
export function jwtPayload(jwt: string): Record<string, unknown> {
  const part = jwt.split('.')[1] ?? ''
  const json = decodeBase64urlText(part)
  if (json === undefined) throw new SyntaxError('a JWT payload is not base64url')
  const payload: unknown = JSON.parse(json)
  return payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>) : {}
}

/** The user claims of an ID token: `Object.fromEntries` defines keys, so `__proto__` stays data. */
export function userClaims(idToken: string, sub: string): UserClaims {
  const entries = Object.entries(jwtPayload(idToken)).filter(([key]) => !PROTOCOL_CLAIMS.has(key))
  return { ...Object.fromEntries(entries), sub } as UserClaims
}

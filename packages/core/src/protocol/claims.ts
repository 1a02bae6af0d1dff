/** What codeflow reads from a JWT whose signature was verified when it was received. */
import type { UserClaims } from '../session/types.js'

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

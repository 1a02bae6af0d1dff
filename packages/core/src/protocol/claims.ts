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
  // the token was verified when it came: what its verifier took (padding, the base64 alphabet,
  // as atob reads them) still reads here, by the slower way
  const json = decodeBase64urlText(part) ?? lenientText(part)
  const payload: unknown = JSON.parse(json)
  return payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>) : {}
}

/** `part` decoded as atob reads base64 (padding and whitespace allowed); throws when it cannot. */
function lenientText(part: string): string {
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/').replace(/[\s=]/g, '')
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4))
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return new TextDecoder().decode(bytes)
}

/** The user claims of an ID token: `Object.fromEntries` defines keys, so `__proto__` stays data. */
export function userClaims(idToken: string, sub: string): UserClaims {
  const entries = Object.entries(jwtPayload(idToken)).filter(([key]) => !PROTOCOL_CLAIMS.has(key))
  return { ...Object.fromEntries(entries), sub } as UserClaims
}

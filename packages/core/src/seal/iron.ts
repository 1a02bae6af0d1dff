/**
 * The Iron seal (`format.ts`; AES-256-CBC, then HMAC-SHA256 over the sealed fields, each key
 * derived from the password by PBKDF2-SHA1 with its own random 256-bit salt) made and checked
 * with Node's synchronous crypto: a cookie seen for the first time is unsealed without waiting for
 * the thread pool, as iron-session's WebCrypto calls must. Seals are interchangeable with
 * iron-session's both ways; where Node's crypto is missing (an edge runtime), `seal.ts` uses
 * iron-session itself.
 */

import type * as NodeCrypto from 'node:crypto'
import { builtin } from '../builtin.js'
import { formatSeal, macInput, parseSeal } from './format.js'

/** Why a seal was refused, in iron-session's words. */
export type IronFailure = 'expired' | 'invalid' | 'unknown-password'

/** A refused seal: `reason` is what iron-session's `onUnsealError` would have said. */
export class IronError extends Error {
  constructor(
    readonly reason: IronFailure,
    message: string,
  ) {
    super(message)
    this.name = 'IronError'
  }
}

/** Iron's clock skew allowance for a seal's expiry */
const SKEW_MS = 60_000
const BASE64URL = /^[A-Za-z0-9_-]*$/
const HEX_SALT = /^[0-9a-f]{64}$/

/** Node's crypto module (without a static import), or `undefined` where the runtime has none. */
export const nodeCrypto = builtin<typeof NodeCrypto>('node:crypto')

function key(crypto: typeof NodeCrypto, password: string, salt: string): Buffer {
  return crypto.pbkdf2Sync(password, salt, 1, 32, 'sha1')
}

function mac(crypto: typeof NodeCrypto, password: string, salt: string, base: string): string {
  return crypto
    .createHmac('sha256', key(crypto, password, salt))
    .update(base)
    .digest('base64url')
}

/**
 * Seals `json` (already serialized) with the password `id` of `passwords` for `ttlMs` ms (0: no
 * expiry), in iron-session 9's format.
 */
export function ironSeal(
  crypto: typeof NodeCrypto,
  json: string,
  id: string,
  password: string,
  ttlMs: number,
): string {
  const salt = crypto.randomBytes(32).toString('hex')
  const iv = crypto.randomBytes(16)
  const cipher = crypto.createCipheriv('aes-256-cbc', key(crypto, password, salt), iv)
  const encrypted = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()])
  const sealed = {
    passwordId: id,
    salt,
    iv: iv.toString('base64url'),
    encrypted: encrypted.toString('base64url'),
    expiration: ttlMs > 0 ? String(Date.now() + ttlMs) : '',
  }
  const macSalt = crypto.randomBytes(32).toString('hex')
  const digest = mac(crypto, password, macSalt, macInput(sealed))
  return formatSeal({ ...sealed, macSalt, mac: digest })
}

/**
 * The JSON text inside `sealed`, after checking its format, expiry (with Iron's 60 s skew), password
 * and MAC (in constant time); throws an `IronError` otherwise.
 */
export function ironUnseal(
  crypto: typeof NodeCrypto,
  sealed: string,
  passwords: Readonly<Record<string, string>>,
): string {
  const fields = parseSeal(sealed)
  if (typeof fields === 'string') throw new IronError('invalid', fields)
  const { passwordId: id, salt, iv, encrypted, expiration, macSalt, mac: digest } = fields
  if (expiration) {
    if (!/^[1-9]\d*$/.test(expiration)) throw new IronError('invalid', 'Invalid expiration')
    if (Number(expiration) <= Date.now() - SKEW_MS) throw new IronError('expired', 'Expired seal')
  }
  const password = Object.hasOwn(passwords, id || 'default')
    ? passwords[id || 'default']
    : undefined
  if (!password) throw new IronError('unknown-password', `Cannot find password: ${id || 'default'}`)
  if (
    !HEX_SALT.test(salt) ||
    !HEX_SALT.test(macSalt) ||
    !BASE64URL.test(iv) ||
    !BASE64URL.test(encrypted) ||
    !BASE64URL.test(digest)
  ) {
    throw new IronError('invalid', 'Malformed seal')
  }
  const expected = Buffer.from(mac(crypto, password, macSalt, macInput(fields)))
  const given = Buffer.from(digest)
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
    throw new IronError('invalid', 'Bad hmac value')
  }
  const ivBytes = Buffer.from(iv, 'base64url')
  if (ivBytes.length !== 16) throw new IronError('invalid', 'Invalid iv')
  try {
    const decipher = crypto.createDecipheriv('aes-256-cbc', key(crypto, password, salt), ivBytes)
    return Buffer.concat([
      decipher.update(Buffer.from(encrypted, 'base64url')),
      decipher.final(),
    ]).toString('utf8')
  } catch (error) {
    throw new IronError('invalid', `Cannot decrypt: ${(error as Error).message}`)
  }
}

/**
 * The Iron seal (`Fe26.2`, as iron-session 9 writes and reads it: AES-256-CBC, then HMAC-SHA256
 * over the sealed fields, each key derived from the password by PBKDF2-SHA1 with its own random
 * 256-bit salt; iron-session's `~2` marker after it) made and checked with Node's synchronous
 * crypto. iron-session goes through WebCrypto: two key imports, two derivations, a cipher and a MAC,
 * each a promise and a thread-pool job, ~0.5 ms per seal or unseal here; the same work done
 * synchronously takes about a tenth of it, and it is the whole cost of a never-seen cookie and most
 * of a login's. Seals stay interchangeable with iron-session's both ways (tested), and where Node's
 * crypto is not available (an edge runtime) `seal.ts` uses iron-session itself.
 */
import type * as NodeCrypto from 'node:crypto'

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

const PREFIX = 'Fe26.2'
/** iron-session's version marker, outside the MAC: stripped and ignored when reading */
const VERSION = '~2'
/** Iron's clock skew allowance for a seal's expiry */
const SKEW_MS = 60_000
const BASE64URL = /^[A-Za-z0-9_-]*$/
const HEX_SALT = /^[0-9a-f]{64}$/

/**
 * Node's crypto module, without a static import (an edge bundle never sees `node:crypto`), or
 * `undefined` where the runtime has none.
 */
export const nodeCrypto: typeof NodeCrypto | undefined = (() => {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
    ?.getBuiltinModule
  try {
    return get ? (get('node:crypto') as typeof NodeCrypto | undefined) : undefined
  } catch {
    return undefined
  }
})()

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
  const expiration = ttlMs > 0 ? String(Date.now() + ttlMs) : ''
  const base = `${PREFIX}*${id}*${salt}*${iv.toString('base64url')}*${encrypted.toString('base64url')}*${expiration}`
  const macSalt = crypto.randomBytes(32).toString('hex')
  return `${base}*${macSalt}*${mac(crypto, password, macSalt, base)}${VERSION}`
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
  const tilde = sealed.indexOf('~')
  const parts = (tilde === -1 ? sealed : sealed.slice(0, tilde)).split('*')
  if (parts.length !== 8) throw new IronError('invalid', 'Incorrect number of sealed components')
  const [prefix, id, salt, iv, encrypted, expiration, macSalt, digest] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ]
  if (prefix !== PREFIX) throw new IronError('invalid', 'Wrong mac prefix')
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
  const base = `${prefix}*${id}*${salt}*${iv}*${encrypted}*${expiration}`
  const expected = Buffer.from(mac(crypto, password, macSalt, base))
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

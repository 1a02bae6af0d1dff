/**
 * The Iron seal format (`Fe26.2`), as iron-session 9 writes it: eight `*`-separated fields, then
 * iron-session's `~2` version marker, which is outside the MAC:
 *
 *     Fe26.2*<password id>*<key salt>*<iv>*<ciphertext>*<expiry ms>*<MAC salt>*<MAC>~2
 *
 * The only module that knows where a field stands; the cryptography is `iron.ts`'s.
 */

/** The format's prefix. */
export const PREFIX = 'Fe26.2'
/** iron-session's version marker, after the MAC */
export const VERSION = '~2'

/** The fields of a seal. */
export interface SealFields {
  readonly passwordId: string
  readonly salt: string
  readonly iv: string
  readonly encrypted: string
  /** epoch milliseconds as digits, or empty for a seal that does not expire */
  readonly expiration: string
  readonly macSalt: string
  readonly mac: string
}

/**
 * The fields of `value`, or why it is not a seal: the number of fields or the prefix. Their
 * contents are the unsealer's to check.
 */
export function parseSeal(value: string): SealFields | string {
  const tilde = value.indexOf('~')
  const parts = (tilde === -1 ? value : value.slice(0, tilde)).split('*')
  if (parts.length !== 8) return 'Incorrect number of sealed components'
  const [prefix, passwordId, salt, iv, encrypted, expiration, macSalt, mac] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ]
  if (prefix !== PREFIX) return 'Wrong mac prefix'
  return { passwordId, salt, iv, encrypted, expiration, macSalt, mac }
}

/** What the MAC covers: every field before the MAC salt. */
export function macInput(fields: Omit<SealFields, 'macSalt' | 'mac'>): string {
  const { passwordId, salt, iv, encrypted, expiration } = fields
  return `${PREFIX}*${passwordId}*${salt}*${iv}*${encrypted}*${expiration}`
}

/** The seal of `fields`, with the version marker. */
export function formatSeal(fields: SealFields): string {
  return `${macInput(fields)}*${fields.macSalt}*${fields.mac}${VERSION}`
}

/**
 * The MAC of a seal (43 characters), found without splitting the whole value: a cheap, almost
 * unique key for a seal. Two values with one MAC are still two values (compare them whole).
 */
export function sealMac(value: string): string {
  const tilde = value.lastIndexOf('~')
  const end = tilde === -1 ? value.length : tilde
  return value.slice(value.lastIndexOf('*', end) + 1, end)
}

/**
 * The password id and expiry (epoch ms, 0 for none) of a seal, or `undefined` for a value that is
 * not one.
 */
export function sealInfo(value: string): { passwordId: string; expires: number } | undefined {
  const fields = parseSeal(value)
  if (typeof fields === 'string') return undefined
  const expires = Number(fields.expiration)
  return { passwordId: fields.passwordId, expires: Number.isFinite(expires) ? expires : 0 }
}

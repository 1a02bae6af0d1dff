/**
 * A bounded cache of unsealed session payloads, per app configuration, keyed by the exact sealed
 * value (the cookie's joined chunks, or a store's value). Unsealing (two key derivations, an HMAC,
 * an AES decryption and a JSON parse) is the cost of every session read; a hit skips only that. What
 * a hit returns is exactly what unsealing that same string returned before, so nothing is trusted
 * that was not verified: a tampered or foreign value is a different key and never hits. Everything
 * that depends on time or on other requests (the seal's own expiry, session lifetimes, revocation,
 * the store's current value) is still checked by the caller on every read.
 */
import { sealInfo, sealMac } from '../seal/format.js'

/** The most entries one app's cache holds (a hard cap; the least recently used go first). */
export const SESSION_CACHE_MAX = 10_000

/** One unsealed value. */
export interface CachedSeal {
  /** the sealed value itself, compared whole on every lookup */
  readonly value: string
  /** the unsealed payload, deep-frozen: shared by every request that presents the same value */
  readonly payload: Readonly<Record<string, unknown>>
  /** the id of the password that sealed it */
  readonly passwordId: string
  /** that password, so that a cache never outlives a password removed or replaced */
  readonly password: string
  /** when the seal itself expires, epoch milliseconds */
  readonly expires: number
  /** memo of the caller's derived values (e.g. the user's claims), computed once per value */
  derived?: unknown
  /** whether it was read since eviction last looked at it */
  used?: boolean
}

/**
 * A map of sealed value (keyed by its MAC, compared whole) to unsealed payload with a hard cap,
 * evicting like CLOCK (an approximation of least recently used): the oldest entry goes first
 * unless it was used since it was last looked at, in which case it moves to the back once. One per
 * app (`Auth`): apps never share unsealed sessions.
 */
export class SessionCache {
  readonly #entries = new Map<string, CachedSeal>()
  readonly #max: number

  constructor(max: number = SESSION_CACHE_MAX) {
    this.#max = max
  }

  /** how many values are cached */
  get size(): number {
    return this.#entries.size
  }

  /**
   * The payload of `value` if it is cached, its seal has not expired, and its password is still
   * one of `passwords`; otherwise `undefined` (and a dead entry is dropped).
   */
  get(value: string, passwords: Readonly<Record<string, string>>): CachedSeal | undefined {
    const key = sealMac(value)
    const entry = this.#entries.get(key)
    // the key is the seal's MAC; the whole value must still be the one that was unsealed
    if (entry === undefined || entry.value !== value) return undefined
    if (entry.expires <= Date.now() || passwords[entry.passwordId] !== entry.password) {
      this.#entries.delete(key)
      return undefined
    }
    // CLOCK: a hit only marks the entry (one Map read per hit); eviction gives it a second chance
    entry.used = true
    return entry
  }

  /**
   * The entry of `value`, which unseals to `payload` (call only after a successful unseal or
   * seal), remembered when it can be: a seal with an expiry under one of `passwords`.
   */
  set(
    value: string,
    payload: Record<string, unknown>,
    passwords: Readonly<Record<string, string>>,
  ): CachedSeal {
    const info = sealInfo(value)
    const password = info === undefined ? undefined : passwords[info.passwordId]
    // every member set now, so that all entries share one hidden class (monomorphic lookups)
    const entry: CachedSeal = {
      value,
      payload: deepFreeze(payload),
      passwordId: info?.passwordId ?? '',
      password: password ?? '',
      expires: info?.expires ?? 0,
      derived: undefined,
      used: false,
    }
    // a seal without expiry (codeflow makes none) or password id is not remembered
    if (!info?.passwordId || info.expires <= 0 || password === undefined) return entry
    const key = sealMac(value)
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    // at most 2 × size steps: each used entry is moved once, with its mark cleared
    while (this.#entries.size > this.#max) {
      const [old, oldest] = this.#entries.entries().next().value as [string, CachedSeal]
      this.#entries.delete(old)
      if (oldest.used && old !== key) {
        oldest.used = false
        this.#entries.set(old, oldest)
      }
    }
    return entry
  }

  /** Forgets `value`. */
  delete(value: string): void {
    const key = sealMac(value)
    if (this.#entries.get(key)?.value === value) this.#entries.delete(key)
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const member of Object.values(value)) deepFreeze(member)
  }
  return value
}

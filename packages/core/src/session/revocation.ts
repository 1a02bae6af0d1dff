/**
 * Logout revocations: what back-channel and front-channel logout remember so that every session
 * they end reads as anonymous afterwards, also a copied cookie, and also on other instances when
 * the store is shared. A sealed cookie session cannot be recalled, so
 * every session read asks the store whether its provider session (`sid`) or its user (`sub`,
 * for sessions that began before the logout) was revoked: one lookup per request.
 */

/**
 * One revocation: every session of the provider session `sid`; or every session of the user `sub`
 * that began at or before `before` (OIDC Back-Channel Logout 1.0 §2.7: a logout token without
 * `sid` ends all of the user's sessions; later logins are not affected); or the one session `id`
 * (a local logout, so that a copy of its cookie is dead too).
 */
export type Revocation =
  | {
      readonly iss: string
      readonly sid: string
      readonly sub?: undefined
      readonly id?: undefined
      /** the user's `sub`, when the logout names it: a store may keep a user's keys together */
      readonly user?: string | undefined
    }
  | {
      readonly iss: string
      readonly sub: string
      readonly before: number
      readonly sid?: undefined
      readonly id?: undefined
    }
  | {
      readonly iss: string
      readonly id: string
      readonly sid?: undefined
      readonly sub?: undefined
      /** the session's user (`sub`): a store may keep a user's keys together */
      readonly user?: string | undefined
    }

/** What a revocation check needs to know about a session. */
export interface RevocationQuery {
  /** the session's own id (new at every login) */
  readonly id: string
  readonly iss: string
  readonly sub: string
  /** the provider's session id (`sid` of the ID token), when the provider sent one */
  readonly sid?: string | undefined
  /** when the session began (login), epoch seconds */
  readonly createdAt: number
}

/**
 * Where logout revocations and the `jti`s of used logout tokens live. The default is a memory
 * store per app and process ({@link createMemoryRevocationStore}); apps with several instances
 * share one (`createRedisRevocationStore` from `@codeflow/redis`). A store that fails throws (a
 * `SessionStoreError` gives 503): a session is never read as valid because revocations are
 * unknown.
 */
export interface RevocationStore {
  /** records `revocation` for `ttl` seconds (the longest a session it ends may still live) */
  revoke(revocation: Revocation, ttl: number): Promise<void>
  /**
   * whether the session is revoked: by its `id`, its `sid`, or its `sub` (when it began at or
   * before the `before` of a revocation of that user); called on every session read: one lookup
   */
  isRevoked(session: RevocationQuery): Promise<boolean>
  /**
   * optional: the same answer as `isRevoked`, synchronously, for a store that holds its
   * revocations in memory; session reads then await nothing when their seal is cached
   */
  isRevokedNow?(session: RevocationQuery): boolean
  /**
   * records the `jti` of a logout token from `iss` for `ttl` seconds; resolves `false` when it was
   * already recorded (a replayed token), atomically
   */
  recordJti(iss: string, jti: string, ttl: number): Promise<boolean>
  /**
   * optional: told, for `ttl` seconds, that a session of the provider session `sid` of user `sub`
   * began, before any logout can name it by `sid` alone (a front-channel logout, a logout token
   * without `sub`). A store that keeps each user's keys together (the Redis Cluster store: one
   * slot per user) finds the user of such a logout from it. Called at login, before the session
   * is written: a store that fails fails the login (503)
   */
  remember?(session: ProviderSession, ttl: number): Promise<void>
}

/** A provider session (`sid`) and its user, as `RevocationStore.remember` is told them. */
export interface ProviderSession {
  readonly iss: string
  readonly sid: string
  readonly sub: string
}

/** Options of `createMemoryRevocationStore`. */
export interface MemoryRevocationStoreOptions {
  /**
   * the most revocations kept, and separately the most `jti`s; past it the oldest are forgotten
   * first (a forgotten revocation lets its sessions back in: size it above the logouts of one
   * session lifetime, or share a Redis store); default 100,000
   */
  maxEntries?: number
}

interface Entry {
  /** the `before` of a user revocation; `Infinity` for a session or provider session */
  readonly before: number
  /** epoch milliseconds */
  readonly until: number
}

/** The key of a revocation: kind, issuer and identifier. */
function keyOf(kind: 'id' | 'sid' | 'sub', iss: string, id: string): string {
  return `${kind}\n${iss}\n${id}`
}

/** A Map bounded by insertion order whose entries expire. */
class ExpiringMap<V extends { readonly until: number }> {
  readonly #entries = new Map<string, V>()
  readonly #max: number

  constructor(max: number) {
    this.#max = max
  }

  /** how many entries are kept (expired ones included until they are looked at) */
  get size(): number {
    return this.#entries.size
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.until > Date.now()) return entry
    this.#entries.delete(key)
    return undefined
  }

  set(key: string, value: V): void {
    this.#entries.delete(key)
    this.#entries.set(key, value)
    const now = Date.now()
    // the first entries are the oldest: drop expired ones and any beyond the bound
    for (const [old, entry] of this.#entries) {
      if (this.#entries.size <= this.#max && entry.until > now) break
      this.#entries.delete(old)
    }
  }
}

/**
 * A `RevocationStore` in this process's memory: bounded, expiring, lost at restart and not shared
 * between instances (use `@codeflow/redis` for that). A lookup is three `Map` reads.
 */
export function createMemoryRevocationStore(
  options: MemoryRevocationStoreOptions = {},
): RevocationStore {
  const max = options.maxEntries ?? 100_000
  if (!Number.isInteger(max) || max < 1) {
    throw new TypeError('"maxEntries" must be a positive integer')
  }
  const revocations = new ExpiringMap<Entry>(max)
  const jtis = new ExpiringMap<{ readonly until: number }>(max)
  const isRevokedNow = (session: RevocationQuery): boolean => {
    // no logout recorded at all: nothing to look up (the common case on the hot path)
    if (revocations.size === 0) return false
    if (revocations.get(keyOf('id', session.iss, session.id))) return true
    if (session.sid !== undefined && revocations.get(keyOf('sid', session.iss, session.sid))) {
      return true
    }
    const user = revocations.get(keyOf('sub', session.iss, session.sub))
    return user !== undefined && session.createdAt <= user.before
  }
  return {
    async revoke(revocation, ttl) {
      const until = Date.now() + ttl * 1000
      if (revocation.id !== undefined) {
        revocations.set(keyOf('id', revocation.iss, revocation.id), { before: Infinity, until })
        return
      }
      if (revocation.sid !== undefined) {
        revocations.set(keyOf('sid', revocation.iss, revocation.sid), { before: Infinity, until })
        return
      }
      const key = keyOf('sub', revocation.iss, revocation.sub)
      const previous = revocations.get(key)
      // a later logout of the same user covers the earlier one
      const before = Math.max(revocation.before, previous?.before ?? -Infinity)
      revocations.set(key, { before, until: Math.max(until, previous?.until ?? 0) })
    },
    async isRevoked(session) {
      return isRevokedNow(session)
    },
    isRevokedNow,
    async recordJti(iss, jti, ttl) {
      const key = `${iss}\n${jti}`
      if (jtis.get(key)) return false
      jtis.set(key, { until: Date.now() + ttl * 1000 })
      return true
    },
  }
}

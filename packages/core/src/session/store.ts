/**
 * Server-side session stores. With a store, the cookie keeps only a sealed reference (a random id)
 * and the session lives in the store, so a logout really ends it and instances share it. The core
 * seals every value before it reaches a store: the store never sees tokens in clear.
 */

/**
 * Whose session a store entry is: the core passes it wherever it knows it, so that a store may
 * keep a user's entries together (the Redis Cluster store puts them, and the user's logout
 * revocations, in one slot). A store must find an entry by its `id` with the same `owner` it was
 * written with; the core passes the same one for a session's whole life.
 */
export interface SessionOwner {
  readonly iss: string
  readonly sub: string
}

/** The owner of `session`: its issuer and user, and nothing else of it (never a token). */
export function ownerOf(session: { readonly iss: string; readonly sub: string }): SessionOwner {
  return { iss: session.iss, sub: session.sub }
}

/** A key-value store with expiry, for sealed session values. Every duration is in seconds. */
export interface SessionStore {
  /** the value stored under `id`, or `undefined` when there is none (or it expired) */
  get(id: string, owner?: SessionOwner): Promise<string | undefined>
  /** stores `value` under `id` for `ttl` seconds, replacing any previous value */
  set(id: string, value: string, ttl: number, owner?: SessionOwner): Promise<void>
  /** deletes `id`; deleting a missing id is not an error */
  delete(id: string, owner?: SessionOwner): Promise<void>
  /**
   * Takes the short lock `name` for `ttl` seconds (a fraction is fine): resolves with the
   * function that releases it, or `undefined` while another holder has it. Optional; with it, a
   * session is refreshed by one instance at a time (others wait and read the result from the
   * store).
   */
  lock?(name: string, ttl: number, owner?: SessionOwner): Promise<(() => Promise<void>) | undefined>
}

/** Options of `createMemoryStore`. */
export interface MemoryStoreOptions {
  /** the most sessions kept; the oldest are dropped first; default 10,000 */
  maxEntries?: number
}

/**
 * A store in this process's memory, for development and tests: bounded, expiring, lost at
 * restart and not shared between instances (use `@codeflow/redis` for that).
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): SessionStore {
  const maxEntries = options.maxEntries ?? 10_000
  // insertion order is write order: the first entries are the oldest
  const entries = new Map<string, { value: string; until: number }>()
  const locks = new Map<string, { until: number }>()
  return {
    async get(id) {
      const entry = entries.get(id)
      if (!entry) return undefined
      if (entry.until <= Date.now()) {
        entries.delete(id)
        return undefined
      }
      return entry.value
    },
    async set(id, value, ttl) {
      entries.delete(id)
      entries.set(id, { value, until: Date.now() + ttl * 1000 })
      for (const key of entries.keys()) {
        if (entries.size <= maxEntries) break
        entries.delete(key)
      }
    },
    async delete(id) {
      entries.delete(id)
    },
    async lock(name, ttl) {
      const held = locks.get(name)
      if (held !== undefined && held.until > Date.now()) return undefined
      const mine = { until: Date.now() + ttl * 1000 }
      locks.set(name, mine)
      return async () => {
        if (locks.get(name) === mine) locks.delete(name)
      }
    },
  }
}

import type { Revocation, RevocationQuery, RevocationStore } from '@codeflow/core'
import { command } from './deadline.js'

/**
 * The commands the revocation store needs, as node-redis (v5, v6) offers them. Any client with
 * these methods works; a cluster client only when every key of one session hashes to one slot
 * (give `prefix` a hash tag, e.g. `{codeflow}:revoked:`), since a check is one `MGET`.
 */
export interface RedisRevocationCommands {
  get(key: string): Promise<string | null | unknown>
  mGet(keys: string[]): Promise<unknown>
  set(key: string, value: string, options: { EX: number; NX?: true }): Promise<unknown>
}

/** Options of `createRedisRevocationStore`. */
export interface RedisRevocationStoreOptions {
  /** prefix of every key; default `codeflow:revoked:` */
  prefix?: string
  /** milliseconds one command may take before the request fails with 503; default 2000 */
  commandTimeout?: number
}

/**
 * A `RevocationStore` on Redis, shared by every instance of an app: a logout token that reaches
 * one instance ends the session on all of them. One key per revocation (`<prefix>sid:…`,
 * `<prefix>sub:…` holding the `before` time, `<prefix>id:…`) and per used logout token
 * (`<prefix>jti:…`, set with NX so that a replay is refused atomically), each expiring with its
 * TTL. A session check is one `MGET` round trip. Failures and timeouts are `SessionStoreError`
 * (503), never a session read as valid.
 */
export function createRedisRevocationStore(
  client: RedisRevocationCommands,
  options: RedisRevocationStoreOptions = {},
): RevocationStore {
  const prefix = options.prefix ?? 'codeflow:revoked:'
  const timeout = options.commandTimeout ?? 2000
  if (typeof prefix !== 'string') throw new TypeError('"prefix" must be a string')
  if (!Number.isInteger(timeout) || timeout < 1) {
    throw new TypeError('"commandTimeout" must be a positive integer of milliseconds')
  }
  // encodeURIComponent escapes ":", so that no issuer and id pair can spell another's key
  const key = (kind: 'id' | 'sid' | 'sub' | 'jti', iss: string, id: string) =>
    `${prefix}${kind}:${encodeURIComponent(iss)}:${encodeURIComponent(id)}`
  const seconds = (ttl: number) => Math.max(1, Math.ceil(ttl))

  async function revokeUser(revocation: Revocation & { sub: string }, ttl: number) {
    const userKey = key('sub', revocation.iss, revocation.sub)
    // a later logout of the same user covers an earlier one: keep the latest `before` (a race of
    // two logouts of one user within one round trip may keep the earlier; both are revocations)
    const previous = Number(await command(() => client.get(userKey), timeout))
    const before = Number.isFinite(previous)
      ? Math.max(previous, revocation.before)
      : revocation.before
    await command(() => client.set(userKey, String(before), { EX: seconds(ttl) }), timeout)
  }

  return {
    async revoke(revocation, ttl) {
      if (revocation.sub !== undefined) return revokeUser(revocation, ttl)
      const revoked =
        revocation.id !== undefined
          ? key('id', revocation.iss, revocation.id)
          : key('sid', revocation.iss, revocation.sid)
      await command(() => client.set(revoked, '1', { EX: seconds(ttl) }), timeout)
    },
    async isRevoked(session: RevocationQuery) {
      const keys = [key('id', session.iss, session.id), key('sub', session.iss, session.sub)]
      if (session.sid !== undefined) keys.push(key('sid', session.iss, session.sid))
      const values = await command(() => client.mGet(keys), timeout)
      if (!Array.isArray(values)) throw new TypeError('MGET did not answer with a list')
      const [id, user, sid] = values as unknown[]
      if (typeof id === 'string' || typeof sid === 'string') return true
      return typeof user === 'string' && session.createdAt <= Number(user)
    },
    async recordJti(iss, jti, ttl) {
      const set = await command(
        () => client.set(key('jti', iss, jti), '1', { EX: seconds(ttl), NX: true }),
        timeout,
      )
      return set === 'OK'
    },
  }
}

import type { ProviderSession, Revocation, RevocationQuery, RevocationStore } from '@codeflow/core'
import { clusterOption, encodeIssuer, hasHashTag, userTag } from './cluster.js'
import { commandRunner } from './deadline.js'

/**
 * The commands the revocation store needs, as node-redis (v5, v6) offers them: a client
 * (`createClient`) or a cluster client (`createCluster`). Any client with these methods works.
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
  /**
   * whether `client` is a Redis Cluster client: every revocation of a user then carries the
   * user's hash tag (`<prefix>{<issuer>:<sub>}:…`), so that a session's check is one `MGET` on
   * one shard (the shard of its session, with `createRedisStore`'s cluster keys) and users spread
   * over the shards; a logout by provider session alone (front-channel, a logout token without
   * `sub`) finds the user from what `remember` recorded at login. Default: detected (node-redis's
   * cluster client has `getSlotMaster`); set it when `client` wraps a cluster client
   */
  cluster?: boolean
}

/**
 * A `RevocationStore` on Redis, shared by every instance of an app: a logout token that reaches
 * one instance ends the session on all of them. One key per revocation (by session id, provider
 * session `sid`, or user `sub` holding the `before` time) and per used logout token (`jti`, set
 * with NX so that a replay is refused atomically), each expiring with its TTL. A session check is
 * one `MGET`: one round trip, on one shard of a cluster. Failures and timeouts are
 * `SessionStoreError` (503), never a session read as valid.
 *
 * Keys on one server: `<prefix>id:<iss>:<id>`, `<prefix>sid:<iss>:<sid>`, `<prefix>sub:<iss>:<sub>`,
 * `<prefix>jti:<iss>:<jti>`. On a cluster: `<prefix>{<iss>:<sub>}:id:<id>`, `…:sid:<sid>`, `…:sub`,
 * and `<prefix>sidmap:<iss>:<sid>` (the user of a provider session), `<prefix>jti:<iss>:<jti>`.
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
  // a prefix with a hash tag of its own (`{codeflow}:revoked:`) keeps every key in its one slot:
  // the flat layout, as before the per-user one
  const cluster = clusterOption(options.cluster, client) && !hasHashTag(prefix)
  const run = commandRunner(client, timeout)
  const seconds = (ttl: number) => Math.max(1, Math.ceil(ttl))
  // encodeURIComponent escapes ":", "{" and "}": no issuer and id pair spells another's key, and
  // no key has a hash tag but the cluster layout's own
  const enc = encodeURIComponent
  const flat = (kind: 'id' | 'sid' | 'sub' | 'jti' | 'sidmap', iss: string, id: string) =>
    `${prefix}${kind}:${encodeIssuer(iss)}:${enc(id)}`
  /** the keys of a user's revocations: on a cluster, all in the user's slot */
  const keys = cluster
    ? {
        id: (iss: string, sub: string, id: string) => `${prefix}${userTag(iss, sub)}:id:${enc(id)}`,
        sid: (iss: string, sub: string, sid: string) =>
          `${prefix}${userTag(iss, sub)}:sid:${enc(sid)}`,
        sub: (iss: string, sub: string) => `${prefix}${userTag(iss, sub)}:sub`,
      }
    : {
        id: (iss: string, _sub: string, id: string) => flat('id', iss, id),
        sid: (iss: string, _sub: string, sid: string) => flat('sid', iss, sid),
        sub: (iss: string, sub: string) => flat('sub', iss, sub),
      }

  async function revokeUser(revocation: Revocation & { sub: string }, ttl: number) {
    const userKey = keys.sub(revocation.iss, revocation.sub)
    // a later logout of the same user covers an earlier one: keep the latest `before` (a race of
    // two logouts of one user within one round trip may keep the earlier; both are revocations)
    const previous = Number(await run((redis) => redis.get(userKey)))
    const before = Number.isFinite(previous)
      ? Math.max(previous, revocation.before)
      : revocation.before
    await run((redis) => redis.set(userKey, String(before), { EX: seconds(ttl) }))
  }

  /**
   * The users whose sessions a provider session's revocation must reach: on one server, any (the
   * key has no user); on a cluster, the user remembered at login and the one the logout names.
   */
  async function usersOf(iss: string, sid: string, named: string | undefined): Promise<string[]> {
    if (!cluster) return ['']
    const remembered = await run((redis) => redis.get(flat('sidmap', iss, sid)))
    const users = new Set<string>()
    if (typeof remembered === 'string') users.add(remembered)
    if (named !== undefined) users.add(named)
    return [...users]
  }

  return {
    async revoke(revocation, ttl) {
      if (revocation.sub !== undefined) return revokeUser(revocation, ttl)
      const { iss } = revocation
      if (revocation.id !== undefined) {
        if (cluster && revocation.user === undefined) {
          throw new TypeError('a cluster revocation store needs the "user" of a session revocation')
        }
        const revoked = keys.id(iss, revocation.user ?? '', revocation.id)
        await run((redis) => redis.set(revoked, '1', { EX: seconds(ttl) }))
        return
      }
      const { sid } = revocation
      const users = await usersOf(iss, sid, revocation.user)
      await Promise.all(
        users.map((user) =>
          run((redis) => redis.set(keys.sid(iss, user, sid), '1', { EX: seconds(ttl) })),
        ),
      )
    },
    async isRevoked(session: RevocationQuery) {
      const { iss, sub } = session
      const query = [keys.id(iss, sub, session.id), keys.sub(iss, sub)]
      if (session.sid !== undefined) query.push(keys.sid(iss, sub, session.sid))
      const values = await run((redis) => redis.mGet(query))
      if (!Array.isArray(values)) throw new TypeError('MGET did not answer with a list')
      const [id, user, sid] = values as unknown[]
      if (typeof id === 'string' || typeof sid === 'string') return true
      return typeof user === 'string' && session.createdAt <= Number(user)
    },
    async recordJti(iss, jti, ttl) {
      const set = await run((redis) =>
        redis.set(flat('jti', iss, jti), '1', { EX: seconds(ttl), NX: true }),
      )
      return set === 'OK'
    },
    // one server keys a provider session's revocation by `sid` alone: nothing to remember
    ...(cluster
      ? {
          async remember(session: ProviderSession, ttl: number) {
            await run((redis) =>
              redis.set(flat('sidmap', session.iss, session.sid), session.sub, {
                EX: seconds(ttl),
              }),
            )
          },
        }
      : {}),
  }
}

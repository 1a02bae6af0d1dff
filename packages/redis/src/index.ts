/**
 * @codeflow/redis: codeflow's server-side state in Redis, for apps that run several instances or
 * must survive a restart. Values arrive sealed by the core: Redis never sees a token in clear.
 */
import type { SessionOwner, SessionStore } from '@codeflow/core'
import { clusterOption, hasHashTag, userTag } from './cluster.js'
import { commandRunner } from './deadline.js'

/**
 * The few commands the store needs, as node-redis (v5, v6) offers them: a client
 * (`createClient`) or a cluster client (`createCluster`). Any client with these methods works.
 */
export interface RedisCommands {
  get(key: string): Promise<string | null | unknown>
  set(
    key: string,
    value: string,
    options: { EX: number } | { PX: number; NX: true },
  ): Promise<unknown>
  del(key: string): Promise<unknown>
  /** for releasing refresh locks safely (compare-and-delete); without it, no cross-instance lock */
  eval?(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
}

/** Deletes a lock only if it is still ours (it may have expired and been taken by another). */
const RELEASE =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

function randomToken(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('')
}

/** Options of `createRedisStore`. */
export interface RedisStoreOptions {
  /** prefix of every key; default `codeflow:session:` */
  prefix?: string
  /** milliseconds one command may take before the request fails with 503; default 2000 */
  commandTimeout?: number
  /**
   * whether `client` is a Redis Cluster client: each session's keys then carry its user's hash
   * tag (`<prefix>{<issuer>:<sub>}:<id>`), so that they share a slot with that user's logout
   * revocations (one shard per request) and users spread over the shards. Default: detected
   * (node-redis's cluster client has `getSlotMaster`); set it when `client` wraps a cluster
   * client. Give both stores the same value
   */
  cluster?: boolean
}

/**
 * A `SessionStore` on Redis: one key per session (`prefix` + id) whose TTL is the session's
 * remaining lifetime. Create the client with `disableOfflineQueue: true` (see the README) so that
 * a Redis outage fails requests at once with 503 instead of queueing them.
 */
export function createRedisStore(
  client: RedisCommands,
  options: RedisStoreOptions = {},
): SessionStore {
  const prefix = options.prefix ?? 'codeflow:session:'
  const timeout = options.commandTimeout ?? 2000
  if (typeof prefix !== 'string') throw new TypeError('"prefix" must be a string')
  if (!Number.isInteger(timeout) || timeout < 1) {
    throw new TypeError('"commandTimeout" must be a positive integer of milliseconds')
  }
  // a prefix with a hash tag of its own keeps every key in its one slot: the flat layout
  const perUser = clusterOption(options.cluster, client) && !hasHashTag(prefix)
  const run = commandRunner(client, timeout)
  // one server: `<prefix><id>`, as ever; a cluster: in the owner's slot
  const key = (id: string, owner: SessionOwner | undefined) =>
    perUser && owner !== undefined ? `${prefix}${userTag(owner.iss, owner.sub)}:${id}` : prefix + id
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined)

  return {
    async get(id, owner) {
      const value = text(await run((redis) => redis.get(key(id, owner))))
      if (value !== undefined || !perUser || owner === undefined) return value
      // a session written before the cluster layout (`<prefix><id>`), until it is written again
      return text(await run((redis) => redis.get(prefix + id)))
    },
    async set(id, value, ttl, owner) {
      const set = run((redis) =>
        redis.set(key(id, owner), value, { EX: Math.max(1, Math.ceil(ttl)) }),
      )
      // written in the cluster layout: a copy in the earlier one goes, or a copy of its cookie
      // would outlive a logout
      await Promise.all([
        set,
        perUser && owner !== undefined ? run((redis) => redis.del(prefix + id)) : undefined,
      ])
    },
    async delete(id, owner) {
      const deleted = run((redis) => redis.del(key(id, owner)))
      await Promise.all([
        deleted,
        perUser && owner !== undefined ? run((redis) => redis.del(prefix + id)) : undefined,
      ])
    },
    ...(client.eval
      ? {
          async lock(name: string, ttl: number, owner?: SessionOwner) {
            const key =
              perUser && owner !== undefined
                ? `${prefix}lock:${userTag(owner.iss, owner.sub)}:${name}`
                : `${prefix}lock:${name}`
            const token = randomToken()
            const taken = await run((redis) =>
              redis.set(key, token, { PX: Math.max(1, Math.round(ttl * 1000)), NX: true }),
            )
            if (taken !== 'OK') return undefined
            return async () => {
              await run(async (redis) => redis.eval?.(RELEASE, { keys: [key], arguments: [token] }))
            }
          },
        }
      : {}),
  }
}

export {
  createRedisRevocationStore,
  type RedisRevocationCommands,
  type RedisRevocationStoreOptions,
} from './revocation.js'

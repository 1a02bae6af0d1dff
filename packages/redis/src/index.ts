/**
 * @codeflow/redis: codeflow's server-side state in Redis, for apps that run several instances or
 * must survive a restart. Values arrive sealed by the core: Redis never sees a token in clear.
 */
import type { SessionStore } from '@codeflow/core'
import { command } from './deadline.js'

/**
 * The few commands the store needs, as node-redis (v5, v6) offers them. Any client with these
 * methods works; a cluster client too.
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
  const run = <T>(operation: () => Promise<T>): Promise<T> => command(operation, timeout)

  return {
    async get(id) {
      const value = await run(() => client.get(prefix + id))
      return typeof value === 'string' ? value : undefined
    },
    async set(id, value, ttl) {
      await run(() => client.set(prefix + id, value, { EX: Math.max(1, Math.ceil(ttl)) }))
    },
    async delete(id) {
      await run(() => client.del(prefix + id))
    },
    ...(client.eval
      ? {
          async lock(name: string, ttl: number) {
            const key = `${prefix}lock:${name}`
            const token = randomToken()
            const taken = await run(() =>
              client.set(key, token, { PX: Math.max(1, Math.round(ttl * 1000)), NX: true }),
            )
            if (taken !== 'OK') return undefined
            return async () => {
              await run(async () => client.eval?.(RELEASE, { keys: [key], arguments: [token] }))
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

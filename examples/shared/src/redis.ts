import type { RevocationStore, SessionStore } from '@codeflow/core'
import { createRedisRevocationStore, createRedisStore } from '@codeflow/redis'
import { createClient } from 'redis'

/** A Redis-backed session store and revocation store, and the connection behind them. */
export interface RedisConnection {
  readonly store: SessionStore
  /** logout revocations, shared by every instance (back-channel logout reaches them all) */
  readonly revocationStore: RevocationStore
  close(): Promise<void>
}

/**
 * A session store on the Redis at `url`, connected on first use (so configuration can be read
 * synchronously), the way production should connect: no offline queue (a Redis outage fails
 * requests at once with 503 instead of piling them up), bounded reconnection, a connect timeout.
 */
export function redisConnection(url: string): RedisConnection {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 2000,
      reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 2000),
    },
  })
  // errors surface on the commands (as 503); the client's own events would crash the process
  client.on('error', () => undefined)
  let connecting: Promise<unknown> | undefined
  const connected = () => {
    connecting ??= client.connect().catch((error: unknown) => {
      connecting = undefined
      throw error
    })
    return connecting
  }
  const store = createRedisStore({
    async get(key) {
      await connected()
      return client.get(key)
    },
    async set(key, value, options) {
      await connected()
      return client.set(key, value, options)
    },
    async del(key) {
      await connected()
      return client.del(key)
    },
    async eval(script, options) {
      await connected()
      return client.eval(script, options)
    },
  })
  const revocationStore = createRedisRevocationStore({
    async get(key) {
      await connected()
      return client.get(key)
    },
    async mGet(keys) {
      await connected()
      return client.mGet(keys)
    },
    async set(key, value, options) {
      await connected()
      return client.set(key, value, options)
    },
  })
  return {
    store,
    revocationStore,
    async close() {
      if (client.isOpen) client.destroy()
    },
  }
}

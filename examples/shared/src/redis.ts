import type { RevocationStore, SessionStore } from '@codeflow/core'
import {
  createRedisRevocationStore,
  createRedisStore,
  type RedisCommands,
  type RedisRevocationCommands,
} from '@codeflow/redis'
import { createClient, createCluster } from 'redis'

/** A Redis-backed session store and revocation store, and the connection behind them. */
export interface RedisConnection {
  readonly store: SessionStore
  /** logout revocations, shared by every instance (back-channel logout reaches them all) */
  readonly revocationStore: RevocationStore
  close(): Promise<void>
}

/** Where the Redis is: one server's URL (REDIS_URL), or a cluster's seed nodes (REDIS_CLUSTER_NODES). */
export type RedisTarget = string | { readonly cluster: readonly string[] }

/** How every connection of the examples behaves (one server, or each node of a cluster). */
const CONNECTION = {
  // no offline queue: a Redis outage fails requests at once with 503 instead of piling them up
  disableOfflineQueue: true,
  socket: {
    connectTimeout: 2000,
    reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000),
  },
} as const

/** Either kind of client. */
type Client = ReturnType<typeof createClient> | ReturnType<typeof createCluster>

/** The commands both stores use. */
type Commands = RedisCommands & RedisRevocationCommands

/**
 * `client`'s commands, each after `connected()`; with node-redis's `withCommandOptions`, which the
 * stores use to give their commands one shared deadline instead of a timer each.
 */
function connectedFirst(client: Client, connected: () => Promise<unknown>): Commands {
  return {
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
    async del(key) {
      await connected()
      return client.del(key)
    },
    async eval(script, options) {
      await connected()
      return client.eval(script, options)
    },
    withCommandOptions: (options: object) =>
      connectedFirst(client.withCommandOptions(options) as Client, connected),
  } as Commands
}

/**
 * A session store on the Redis (or Redis Cluster) at `target`, connected on first use (so
 * configuration can be read synchronously), the way production should connect: no offline
 * queue, bounded reconnection, a connect timeout. A cluster client finds the shards from its seed
 * nodes, follows slots that move (a replica promoted after its master failed) and reconnects by
 * itself.
 */
export function redisConnection(target: RedisTarget): RedisConnection {
  const cluster = typeof target !== 'string'
  const client: Client = cluster
    ? createCluster({
        rootNodes: target.cluster.map((url) => ({ url })),
        defaults: CONNECTION,
      })
    : createClient({ url: target, ...CONNECTION })
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
  const commands = connectedFirst(client, connected)
  const store = createRedisStore(commands, { cluster })
  const revocationStore = createRedisRevocationStore(commands, { cluster })
  return {
    store,
    revocationStore,
    async close() {
      if (client.isOpen) client.destroy()
    },
  }
}

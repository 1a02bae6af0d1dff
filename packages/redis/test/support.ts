/** A real redis-server and a connected client for one describe block (started and stopped by it). */
import { createClient } from 'redis'
import { afterAll, beforeAll } from 'vitest'
import { type RedisServer, startRedis } from '../../../test/support/redis.js'

/** What `redisForTests` gives: read its members inside the tests, after `beforeAll` ran. */
export interface TestRedis {
  readonly server: RedisServer
  readonly client: ReturnType<typeof createClient>
}

/** Starts redis-server and connects a client before the block's tests; stops both after. */
export function redisForTests(): TestRedis {
  const redis = {} as { server: RedisServer; client: ReturnType<typeof createClient> }
  beforeAll(async () => {
    redis.server = await startRedis()
    redis.client = createClient({ url: redis.server.url, disableOfflineQueue: true })
    redis.client.on('error', () => undefined)
    await redis.client.connect()
  })
  afterAll(async () => {
    redis.client?.destroy()
    await redis.server?.stop()
  })
  return redis
}

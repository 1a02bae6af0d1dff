/**
 * The examples' Redis connection (examples/shared/src/redis.ts), which users copy: connected on
 * first use, both stores on one client, no timer armed per command, 503 while Redis is away.
 */
import { SessionStoreError } from '@codeflow/core'
import { redisConnection } from '@codeflow/example-shared'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type RedisServer, startRedis } from './support/redis.js'

describe("the examples' Redis connection", () => {
  let redis: RedisServer
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(() => redis?.stop())

  it('connects on first use and gives the stores its commands without a timer each', async () => {
    const connection = redisConnection(redis.url)
    const timeouts = vi.spyOn(AbortSignal, 'timeout')
    try {
      await connection.store.set('example-session', 'sealed', 60, { iss: 'https://op', sub: 'u' })
      expect(await connection.store.get('example-session', { iss: 'https://op', sub: 'u' })).toBe(
        'sealed',
      )
      const query = { id: 'example-session', iss: 'https://op', sub: 'u', createdAt: 1 }
      expect(await connection.revocationStore.isRevoked(query)).toBe(false)
      await connection.revocationStore.revoke({ iss: 'https://op', id: 'example-session' }, 60)
      expect(await connection.revocationStore.isRevoked(query)).toBe(true)
      // node-redis's own per-command timeout would arm one AbortSignal.timeout per command
      expect(timeouts).not.toHaveBeenCalled()
    } finally {
      timeouts.mockRestore()
      await connection.close()
    }
  })

  it('answers 503 (SessionStoreError) when Redis cannot be reached', async () => {
    const gone = await startRedis()
    await gone.stop()
    const connection = redisConnection(gone.url)
    try {
      const error = await connection.store.get('any').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(SessionStoreError)
      expect((error as SessionStoreError).status).toBe(503)
    } finally {
      await connection.close()
    }
  })
})

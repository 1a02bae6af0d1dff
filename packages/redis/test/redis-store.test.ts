import { SessionStoreError } from '@codeflow/core'
import { createClient } from 'redis'
import { describe, expect, it } from 'vitest'
import { startRedis } from '../../../test/support/redis.js'
import { createRedisStore } from '../src/index.js'
import { redisForTests } from './support.js'

describe('createRedisStore against a real redis-server', () => {
  const redis = redisForTests()

  it('stores, reads and deletes values under the prefix, with the TTL given', async () => {
    const store = createRedisStore(redis.client, { prefix: 'test:s:' })
    await store.set('abc', 'sealed-value', 120)
    expect(await store.get('abc')).toBe('sealed-value')
    expect(await redis.client.get('test:s:abc')).toBe('sealed-value')
    const ttl = await redis.client.ttl('test:s:abc')
    expect(ttl).toBeGreaterThan(110)
    expect(ttl).toBeLessThanOrEqual(120)
    await store.delete('abc')
    expect(await store.get('abc')).toBeUndefined()
    await store.delete('abc')
  })

  it('uses codeflow:session: as the default prefix', async () => {
    const store = createRedisStore(redis.client)
    await store.set('xyz', 'v', 60)
    expect(await redis.client.get('codeflow:session:xyz')).toBe('v')
  })

  it('lets values expire', async () => {
    const store = createRedisStore(redis.client)
    await store.set('short', 'v', 1)
    await redis.client.pExpire('codeflow:session:short', 1)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(await store.get('short')).toBeUndefined()
  })

  it('fails with a 503 SessionStoreError when Redis is down, without hanging', async () => {
    const other = await startRedis()
    const fragile = createClient({
      url: other.url,
      disableOfflineQueue: true,
      socket: { reconnectStrategy: false },
    })
    fragile.on('error', () => undefined)
    await fragile.connect()
    const store = createRedisStore(fragile, { commandTimeout: 500 })
    await store.set('k', 'v', 60)
    await other.stop()
    const error = await store.get('k').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SessionStoreError)
    expect((error as SessionStoreError).status).toBe(503)
    expect((error as SessionStoreError).headers['Retry-After']).toBeTruthy()
    fragile.destroy()
  })

  it('fails with a 503 when a command does not answer in time', async () => {
    const hanging = {
      get: () => new Promise<never>(() => undefined),
      set: () => new Promise<never>(() => undefined),
      del: () => new Promise<never>(() => undefined),
    }
    const store = createRedisStore(hanging, { commandTimeout: 50 })
    await expect(store.get('k')).rejects.toBeInstanceOf(SessionStoreError)
  })

  it('validates its options', () => {
    expect(() => createRedisStore(redis.client, { commandTimeout: 0 })).toThrow(/commandTimeout/)
  })
})

describe('refresh locks on a real redis-server', () => {
  const redis = redisForTests()

  it('is exclusive, expires, and is released only by its holder', async () => {
    const store = createRedisStore(redis.client, { prefix: 'lock-test:' })
    expect(store.lock).toBeTypeOf('function')
    const release = await store.lock?.('refresh:s1', 5)
    expect(release).toBeTypeOf('function')
    expect(await store.lock?.('refresh:s1', 5)).toBeUndefined()
    expect(await redis.client.pTTL('lock-test:lock:refresh:s1')).toBeGreaterThan(4000)
    await release?.()
    expect(await redis.client.exists('lock-test:lock:refresh:s1')).toBe(0)

    // an expired lock taken by another holder is not released by the first one
    const short = await store.lock?.('refresh:s2', 0.03)
    await new Promise((resolve) => setTimeout(resolve, 60))
    const other = await store.lock?.('refresh:s2', 5)
    expect(other).toBeTypeOf('function')
    await short?.()
    expect(await redis.client.exists('lock-test:lock:refresh:s2')).toBe(1)
    await other?.()
    expect(await redis.client.exists('lock-test:lock:refresh:s2')).toBe(0)
  })

  it('offers no lock without eval', () => {
    const store = createRedisStore({
      get: async () => null,
      set: async () => 'OK',
      del: async () => 1,
    })
    expect(store.lock).toBeUndefined()
  })
})

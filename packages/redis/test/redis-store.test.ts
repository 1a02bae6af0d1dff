import { SessionStoreError } from '@codeflow/core'
import { createClient } from 'redis'
import { describe, expect, it, vi } from 'vitest'
import { startRedis } from '../../../test/support/redis.js'
import { createRedisRevocationStore, createRedisStore } from '../src/index.js'
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

  it("gives node-redis's commands no timer of their own: one shared deadline aborts them", async () => {
    const store = createRedisStore(redis.client)
    const revocations = createRedisRevocationStore(redis.client)
    // node-redis's default 5 s timeout is an AbortSignal.timeout per command, alive until it fires
    const timeouts = vi.spyOn(AbortSignal, 'timeout')
    try {
      await Promise.all(
        Array.from({ length: 200 }, (_, i) => store.set(`many-${i}`, `value-${i}`, 60)),
      )
      const values = await Promise.all(
        Array.from({ length: 200 }, (_, i) => store.get(`many-${i}`)),
      )
      expect(values).toEqual(Array.from({ length: 200 }, (_, i) => `value-${i}`))
      const query = { id: 'x', iss: 'https://op.example', sub: 'u', createdAt: 1 }
      expect(await revocations.isRevoked(query)).toBe(false)
      expect(timeouts).not.toHaveBeenCalled()
    } finally {
      timeouts.mockRestore()
    }
  })

  it('drops the commands a disconnected client queued once their deadline passed', async () => {
    const other = await startRedis()
    // the offline queue on (node-redis's default): commands wait there while Redis is away
    const client = createClient({ url: other.url, socket: { reconnectStrategy: () => 50 } })
    client.on('error', () => undefined)
    await client.connect()
    try {
      const store = createRedisStore(client, { commandTimeout: 200 })
      await other.stop()
      const errors = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.get(`gone-${i}`).catch((e: unknown) => e)),
      )
      for (const error of errors) expect(error).toBeInstanceOf(SessionStoreError)
      // node-redis's queue (internal, read here to pin what the deadline promises)
      const queue = (client as unknown as { _getQueue(): { pendingCount: number } })._getQueue()
      expect(queue.pendingCount).toBe(0)
    } finally {
      client.destroy()
    }
  })

  it('fails with a 503 when a real Redis stops answering, and reads right once it answers again', async () => {
    const other = await startRedis()
    const client = createClient({ url: other.url, disableOfflineQueue: true })
    client.on('error', () => undefined)
    await client.connect()
    try {
      const store = createRedisStore(client, { commandTimeout: 200 })
      await store.set('a', 'value-a', 60)
      await store.set('b', 'value-b', 60)
      process.kill(other.pid, 'SIGSTOP')
      let error: unknown
      try {
        // sent, never answered while the server is stopped
        error = await store.get('a').catch((e: unknown) => e)
      } finally {
        process.kill(other.pid, 'SIGCONT')
      }
      expect(error).toBeInstanceOf(SessionStoreError)
      expect((error as SessionStoreError).status).toBe(503)
      expect(String((error as Error).cause)).toMatch(/did not answer within 200 ms/)
      // the late answer to the aborted GET is not taken for the next command's
      expect(await store.get('b')).toBe('value-b')
      expect(await store.get('a')).toBe('value-a')
    } finally {
      client.destroy()
      await other.stop()
    }
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

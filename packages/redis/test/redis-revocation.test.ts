import { SessionStoreError } from '@codeflow/core'
import { createClient } from 'redis'
import { describe, expect, it } from 'vitest'
import { startRedis } from '../../../test/support/redis.js'
import { createRedisRevocationStore } from '../src/index.js'
import { redisForTests } from './support.js'

const ISS = 'https://op.example.com'
const epoch = () => Math.floor(Date.now() / 1000)

describe('createRedisRevocationStore against a real redis-server', () => {
  const redis = redisForTests()

  const query = (overrides: Record<string, unknown> = {}) => ({
    id: 'session-1',
    iss: ISS,
    sub: 'user-1',
    sid: 'op-1',
    createdAt: epoch(),
    ...overrides,
  })

  it('revokes by sid, by id, and by sub for sessions that began by `before`', async () => {
    const store = createRedisRevocationStore(redis.client, { prefix: 't1:' })
    const now = epoch()
    expect(await store.isRevoked(query())).toBe(false)
    await store.revoke({ iss: ISS, sid: 'op-1' }, 60)
    expect(await store.isRevoked(query())).toBe(true)
    expect(await store.isRevoked(query({ sid: 'op-2' }))).toBe(false)
    expect(await store.isRevoked(query({ sid: undefined }))).toBe(false)
    await store.revoke({ iss: ISS, id: 'session-9' }, 60)
    expect(await store.isRevoked(query({ id: 'session-9', sid: 'op-2' }))).toBe(true)
    await store.revoke({ iss: ISS, sub: 'user-1', before: now }, 60)
    expect(await store.isRevoked(query({ sid: 'op-2', createdAt: now }))).toBe(true)
    expect(await store.isRevoked(query({ sid: 'op-2', createdAt: now + 1 }))).toBe(false)
    // a later logout covers more; an earlier one arriving late does not shrink it
    await store.revoke({ iss: ISS, sub: 'user-1', before: now + 10 }, 60)
    await store.revoke({ iss: ISS, sub: 'user-1', before: now - 10 }, 60)
    expect(await store.isRevoked(query({ sid: 'op-2', createdAt: now + 10 }))).toBe(true)
    // another issuer's identifiers are other keys
    expect(await store.isRevoked({ ...query(), iss: 'https://other.example' })).toBe(false)
    // and the first issuer's keys are its own again after a check for another
    expect(await store.isRevoked(query({ sid: 'op-1' }))).toBe(true)
    expect(await store.isRevoked({ ...query({ sid: 'op-1' }), iss: 'https://other.example' })).toBe(
      false,
    )
  })

  it('keeps each revocation under the prefix with its TTL, issuer and id escaped', async () => {
    const store = createRedisRevocationStore(redis.client, { prefix: 't2:' })
    await store.revoke({ iss: ISS, sid: 'a:b' }, 120)
    const key = `t2:sid:${encodeURIComponent(ISS)}:a%3Ab`
    expect(await redis.client.get(key)).toBe('1')
    const ttl = await redis.client.ttl(key)
    expect(ttl).toBeGreaterThan(110)
    expect(ttl).toBeLessThanOrEqual(120)
    await redis.client.pExpire(key, 1)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(await store.isRevoked(query({ sid: 'a:b' }))).toBe(false)
  })

  it('uses codeflow:revoked: as the default prefix', async () => {
    await createRedisRevocationStore(redis.client).revoke({ iss: ISS, id: 'x' }, 60)
    expect(await redis.client.get(`codeflow:revoked:id:${encodeURIComponent(ISS)}:x`)).toBe('1')
  })

  it('records a jti once, atomically, for its TTL (shared by two instances)', async () => {
    const one = createRedisRevocationStore(redis.client, { prefix: 't3:' })
    const two = createRedisRevocationStore(redis.client, { prefix: 't3:' })
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? one : two).recordJti(ISS, 'jti-1', 60)),
    )
    expect(results.filter(Boolean)).toHaveLength(1)
    expect(await one.recordJti(ISS, 'jti-2', 60)).toBe(true)
    const ttl = await redis.client.ttl(`t3:jti:${encodeURIComponent(ISS)}:jti-2`)
    expect(ttl).toBeGreaterThan(50)
  })

  it('checks a session in one round trip (one MGET)', async () => {
    let commands = 0
    const counting = {
      get: (key: string) => {
        commands++
        return redis.client.get(key)
      },
      mGet: (keys: string[]) => {
        commands++
        return redis.client.mGet(keys)
      },
      set: (key: string, value: string, options: { EX: number; NX?: true }) => {
        commands++
        return redis.client.set(key, value, options)
      },
    }
    const store = createRedisRevocationStore(counting, { prefix: 't4:' })
    await store.isRevoked(query())
    expect(commands).toBe(1)
  })

  it('fails with a 503 SessionStoreError when Redis is down or slow, without hanging', async () => {
    const other = await startRedis()
    const fragile = createClient({
      url: other.url,
      disableOfflineQueue: true,
      socket: { reconnectStrategy: false },
    })
    fragile.on('error', () => undefined)
    await fragile.connect()
    const store = createRedisRevocationStore(fragile, { commandTimeout: 500 })
    await other.stop()
    const error = await store.isRevoked(query()).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SessionStoreError)
    expect((error as SessionStoreError).status).toBe(503)
    fragile.destroy()

    const hanging = {
      get: () => new Promise<never>(() => undefined),
      mGet: () => new Promise<never>(() => undefined),
      set: () => new Promise<never>(() => undefined),
    }
    const slow = createRedisRevocationStore(hanging, { commandTimeout: 50 })
    await expect(slow.isRevoked(query())).rejects.toBeInstanceOf(SessionStoreError)
    await expect(slow.recordJti(ISS, 'j', 1)).rejects.toBeInstanceOf(SessionStoreError)
  })

  it('validates its options', () => {
    expect(() => createRedisRevocationStore(redis.client, { commandTimeout: 0 })).toThrow(
      /commandTimeout/,
    )
  })
})

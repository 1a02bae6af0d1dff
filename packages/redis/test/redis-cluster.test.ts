import { createCluster } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisCluster, startRedisCluster } from '../../../test/support/redis-cluster.js'
import { createRedisRevocationStore, createRedisStore } from '../src/index.js'

const ISS = 'https://op.example.com'
const epoch = () => Math.floor(Date.now() / 1000)

describe('the stores on a real Redis Cluster (three masters, a replica each)', () => {
  let cluster: RedisCluster
  let client: ReturnType<typeof createCluster>
  beforeAll(async () => {
    cluster = await startRedisCluster()
    client = createCluster({
      rootNodes: [{ url: cluster.urls[0] ?? '' }],
      defaults: { disableOfflineQueue: true },
    })
    client.on('error', () => undefined)
    await client.connect()
  }, 60_000)
  afterAll(async () => {
    client?.destroy()
    await cluster?.stop()
  })

  const slot = async (key: string) =>
    Number(await cluster.cli(cluster.ports[0] ?? 0, 'cluster', 'keyslot', key))
  const query = (overrides: Record<string, unknown> = {}) => ({
    id: 'session-1',
    iss: ISS,
    sub: 'user-1',
    sid: 'op-1',
    createdAt: epoch(),
    ...overrides,
  })

  it('is detected from the client, and the option is checked', () => {
    expect(createRedisRevocationStore(client).remember).toBeTypeOf('function')
    expect(createRedisRevocationStore(client, { cluster: false }).remember).toBeUndefined()
    expect(() => createRedisStore(client, { cluster: 'yes' as never })).toThrow(
      '"cluster" must be a boolean',
    )
    expect(() => createRedisRevocationStore(client, { cluster: 1 as never })).toThrow(
      '"cluster" must be a boolean',
    )
  })

  it("keeps a session, its refresh lock and its user's revocations in one slot", async () => {
    const store = createRedisStore(client, { prefix: 'c1:' })
    const owner = { iss: ISS, sub: 'user-1' }
    await store.set('session-1', 'sealed', 60, owner)
    expect(await store.get('session-1', owner)).toBe('sealed')
    // another user's session of the same id is another key
    expect(await store.get('session-1', { iss: ISS, sub: 'user-2' })).toBeUndefined()
    const tag = `{${encodeURIComponent(ISS)}:user-1}`
    expect(await client.get(`c1:${tag}:session-1`)).toBe('sealed')
    const release = await store.lock?.('refresh:session-1', 5, owner)
    expect(release).toBeTypeOf('function')
    const lockKey = `c1:lock:${tag}:refresh:session-1`
    expect(await client.exists(lockKey)).toBe(1)
    await release?.()
    const revocations = createRedisRevocationStore(client, { prefix: 'c1r:' })
    await revocations.revoke({ iss: ISS, sub: 'user-1', before: epoch() }, 60)
    const keys = [`c1:${tag}:session-1`, lockKey, `c1r:${tag}:sub`, `c1r:${tag}:sid:op-1`]
    const slots = new Set(await Promise.all(keys.map(slot)))
    expect(slots.size).toBe(1)
    await store.delete('session-1', owner)
    expect(await store.get('session-1', owner)).toBeUndefined()
  })

  it('reads a session written before the cluster layout, and leaves no copy of it behind', async () => {
    const store = createRedisStore(client, { prefix: 'c5:' })
    const owner = { iss: ISS, sub: 'user-5' }
    // what an earlier version wrote: `<prefix><id>`, no hash tag
    await client.set('c5:session-5', 'earlier', { EX: 60 })
    expect(await store.get('session-5')).toBe('earlier')
    expect(await store.get('session-5', owner)).toBe('earlier')
    // written again (a touch, a refresh): in the user's slot, and the earlier copy is gone
    await store.set('session-5', 'now', 60, owner)
    expect(await client.get('c5:session-5')).toBeNull()
    expect(await store.get('session-5', owner)).toBe('now')
    // a logout deletes both
    await client.set('c5:session-6', 'earlier', { EX: 60 })
    await store.delete('session-6', { iss: ISS, sub: 'user-6' })
    expect(await client.get('c5:session-6')).toBeNull()
  })

  it('keeps the flat layout under a prefix with a hash tag of its own', async () => {
    const store = createRedisStore(client, { prefix: '{app}:s:' })
    await store.set('session-7', 'sealed', 60, { iss: ISS, sub: 'user-7' })
    expect(await client.get('{app}:s:session-7')).toBe('sealed')
    const revocations = createRedisRevocationStore(client, { prefix: '{app}:r:' })
    expect(revocations.remember).toBeUndefined()
    await revocations.revoke({ iss: ISS, sid: 'op-9' }, 60)
    expect(await client.get(`{app}:r:sid:${encodeURIComponent(ISS)}:op-9`)).toBe('1')
    expect(await revocations.isRevoked(query({ sid: 'op-9' }))).toBe(true)
  })

  it('spreads users over the shards', async () => {
    const store = createRedisStore(client, { prefix: 'c2:' })
    for (let i = 0; i < 30; i++) {
      await store.set(`session-${i}`, 'sealed', 60, { iss: ISS, sub: `user-${i}` })
    }
    const masters = (await cluster.nodes()).filter((node) => node.role === 'master')
    const counts = await Promise.all(
      masters.map(async (node) =>
        Number(
          (await cluster.cli(node.port, '--scan', '--pattern', 'c2:*')).split('\n').filter(Boolean)
            .length,
        ),
      ),
    )
    expect(counts.reduce((a, b) => a + b, 0)).toBe(30)
    expect(counts.every((count) => count > 0)).toBe(true)
  })

  it('checks a session with one MGET across its kinds of revocation, and revokes each', async () => {
    const store = createRedisRevocationStore(client, { prefix: 'c3:' })
    const now = epoch()
    expect(await store.isRevoked(query())).toBe(false)
    // a provider session named by a logout with its user
    await store.revoke({ iss: ISS, sid: 'op-1', user: 'user-1' }, 60)
    expect(await store.isRevoked(query())).toBe(true)
    expect(await store.isRevoked(query({ sid: 'op-2' }))).toBe(false)
    // one session, by id (a local logout)
    await store.revoke({ iss: ISS, id: 'session-9', user: 'user-1' }, 60)
    expect(await store.isRevoked(query({ id: 'session-9', sid: 'op-2' }))).toBe(true)
    expect(await store.isRevoked(query({ id: 'session-9', sid: 'op-2', sub: 'user-2' }))).toBe(
      false,
    )
    // every session of the user that began by `before`
    await store.revoke({ iss: ISS, sub: 'user-1', before: now }, 60)
    expect(await store.isRevoked(query({ sid: 'op-2', createdAt: now }))).toBe(true)
    expect(await store.isRevoked(query({ sid: 'op-2', createdAt: now + 1 }))).toBe(false)
    await expect(store.revoke({ iss: ISS, id: 'session-8' }, 60)).rejects.toThrow(
      'a cluster revocation store needs the "user" of a session revocation',
    )
  })

  it('finds the user of a logout by provider session alone from what it remembered at login', async () => {
    const store = createRedisRevocationStore(client, { prefix: 'c4:' })
    await store.remember?.({ iss: ISS, sid: 'op-7', sub: 'user-7' }, 60)
    const mapKey = `c4:sidmap:${encodeURIComponent(ISS)}:op-7`
    expect(await client.get(mapKey)).toBe('user-7')
    expect(await client.ttl(mapKey)).toBeGreaterThan(50)
    const session = query({ sub: 'user-7', sid: 'op-7', id: 'session-7' })
    expect(await store.isRevoked(session)).toBe(false)
    // a front-channel logout: iss and sid, no user
    await store.revoke({ iss: ISS, sid: 'op-7' }, 60)
    expect(await store.isRevoked(session)).toBe(true)
    // a logout token naming another user for that sid reaches the remembered user as well
    await store.remember?.({ iss: ISS, sid: 'op-8', sub: 'user-8' }, 60)
    await store.revoke({ iss: ISS, sid: 'op-8', user: 'someone-else' }, 60)
    expect(await store.isRevoked(query({ sub: 'user-8', sid: 'op-8' }))).toBe(true)
    expect(await store.isRevoked(query({ sub: 'someone-else', sid: 'op-8' }))).toBe(true)
    // jtis are refused the second time, on any slot
    expect(await store.recordJti(ISS, 'jti-1', 60)).toBe(true)
    expect(await store.recordJti(ISS, 'jti-1', 60)).toBe(false)
  })
})

/**
 * Sessions, logout revocations and refresh locks in a real Redis Cluster (three masters with a
 * replica each, on 127.0.0.1), on every adapter: the examples' REDIS_CLUSTER_NODES. Sessions
 * spread over the shards, two instances share them, a logout or a back-channel logout at one ends
 * them at the other, and a master that dies is a 503 for its own sessions only until its replica
 * takes over, after which the app recovers by itself with no session lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import type { Browser } from './support/browser.js'
import { signIn } from './support/flow.js'
import { providerSid, signOutAtProvider } from './support/provider-logout.js'
import { type RedisCluster, startRedisCluster } from './support/redis-cluster.js'
import { CLIENT_ID, startStack } from './support/stack.js'

let cluster: RedisCluster
beforeAll(async () => {
  cluster = await startRedisCluster()
}, 60_000)
afterAll(() => cluster?.stop())

const status = async (browser: Browser, url: string) =>
  (await browser.request(`${url}/api/me`)).status

describe.each(harnesses)('sessions in a Redis Cluster ($name)', (harness) => {
  it('spreads sessions over the shards, shares them between instances, and a logout at one ends them at the other', async () => {
    const stack = await startStack(harness, {
      redisUrl: { cluster: cluster.urls.slice(0, 2) },
      instances: 2,
    })
    try {
      const [a, b] = stack.instances.map((instance) => instance.baseUrl) as [string, string]
      const before = new Set([...(await keysOf(cluster)).values()].flat())
      const browsers: Browser[] = []
      for (let i = 0; i < 9; i++) {
        const browser = stack.browser()
        await signIn(browser, i % 2 ? b : a, { login: `user-${i}` })
        browsers.push(browser)
      }
      // nine new session keys
      const after = await keysOf(cluster)
      const fresh = [...after.values()].map((keys) => keys.filter((k) => !before.has(k)))
      expect(fresh.flat()).toHaveLength(9)
      // (each user's keys carry the user's hash tag: nine users land on more than one shard)
      expect(fresh.filter((keys) => keys.length > 0).length).toBeGreaterThan(1)
      for (const browser of browsers) {
        expect(await status(browser, a)).toBe(200)
        expect(await status(browser, b)).toBe(200)
      }
      const [leaving, staying] = browsers as [Browser, Browser]
      const logout = await leaving.postForm(`${b}/logout`, {}, { origin: b })
      expect(logout.status).toBe(303)
      expect(await status(leaving, a)).toBe(401)
      expect(await status(staying, a)).toBe(200)
    } finally {
      await stack.close()
    }
  })

  it('a back-channel logout at one instance ends the session at the other, with cookie sessions and cluster revocations', async () => {
    const stack = await startStack(harness, {
      redisUrl: { cluster: cluster.urls.slice(2, 4) },
      redisSessions: false,
      instances: 2,
    })
    try {
      const [a, b] = stack.instances.map((instance) => instance.baseUrl) as [string, string]
      const leaving = stack.browser()
      await signIn(leaving, b, { login: 'leaving' })
      const bystander = stack.browser()
      await signIn(bystander, b, { login: 'bystander' })
      expect(await status(leaving, a)).toBe(200)
      const { deliveries } = await signOutAtProvider(stack.provider, leaving)
      // the provider told instance A (the client's backchannel_logout_uri)
      expect(deliveries).toEqual([{ clientId: CLIENT_ID, ok: true }])
      expect(await status(leaving, b)).toBe(401)
      expect(await status(leaving, a)).toBe(401)
      expect(await status(bystander, b)).toBe(200)
    } finally {
      await stack.close()
    }
  })
})

describe.each(harnesses)('front-channel logout on a Redis Cluster ($name)', (harness) => {
  it('ends the session at the other instance from iss and sid alone, by the user remembered at login', async () => {
    const stack = await startStack(harness, {
      redisUrl: { cluster: cluster.urls.slice(4) },
      instances: 2,
    })
    try {
      const [a, b] = stack.instances.map((instance) => instance.baseUrl) as [string, string]
      const browser = stack.browser()
      await signIn(browser, a, { login: 'front' })
      const bystander = stack.browser()
      await signIn(bystander, a, { login: 'bystander' })
      const sid = await providerSid(stack.provider, browser, CLIENT_ID)
      expect(await status(browser, b)).toBe(200)
      // the login remembered whose provider session it is (a front-channel logout names no user)
      const remembered = `codeflow:revoked:sidmap:${encodeURIComponent(stack.provider.issuer)}:${encodeURIComponent(sid)}`
      expect(await cluster.cli(await cluster.masterOf(remembered), 'get', remembered)).toBe('front')
      const url = `${a}/frontchannel-logout?${new URLSearchParams({ iss: stack.provider.issuer, sid })}`
      const iframe = await browser.request(url, {
        cookies: false,
        headers: {
          'sec-fetch-dest': 'iframe',
          'sec-fetch-mode': 'navigate',
          'sec-fetch-site': 'cross-site',
          accept: 'text/html',
        },
      })
      expect(iframe.status).toBe(200)
      expect(await status(browser, b)).toBe(401)
      expect(await status(browser, a)).toBe(401)
      expect(await status(bystander, b)).toBe(200)
    } finally {
      await stack.close()
    }
  })
})

describe('a master of the cluster fails (express)', () => {
  const harness = harnesses.find((one) => one.name === 'express')
  if (harness === undefined) throw new Error('no express harness')

  it('answers 503 for that shard only until its replica takes over, then recovers by itself with no session lost', async () => {
    const own = await startRedisCluster()
    let stack: Awaited<ReturnType<typeof startStack>> | undefined
    try {
      stack = await startStack(harness, { redisUrl: { cluster: own.urls.slice(0, 1) } })
      const url = stack.baseUrl
      // sessions until every shard holds at least one
      const browsers: { browser: Browser; key: string }[] = []
      const masters = (await own.nodes()).filter((node) => node.role === 'master')
      expect(masters).toHaveLength(3)
      const known = new Set<string>()
      for (let i = 0; i < 40; i++) {
        const browser = stack.browser()
        await signIn(browser, url, { login: `user-${i}` })
        const keys = [...(await keysOf(own)).values()].flat()
        const key = keys.find((one) => !known.has(one))
        if (key === undefined) throw new Error('the login stored no session')
        known.add(key)
        browsers.push({ browser, key })
        const shards = new Set(await Promise.all(browsers.map(({ key }) => own.masterOf(key))))
        if (shards.size === masters.length) break
      }
      const victim = await own.masterOf(browsers[0]?.key ?? '')
      const shardOf = new Map(
        await Promise.all(browsers.map(async (b) => [b, await own.masterOf(b.key)] as const)),
      )
      expect(new Set(shardOf.values()).size).toBe(masters.length)
      // the replica has everything its master has before the master dies
      expect(Number(await own.cli(victim, 'wait', '1', '5000'))).toBe(1)
      const victimId = masters.find((node) => node.port === victim)?.id
      const replica = (await own.nodes()).find((node) => node.masterId === victimId)
      if (replica === undefined) throw new Error('the master has no replica')

      await own.kill(victim)
      // its sessions are 503 (never 401, 500 or a stale 200); every other shard's answer 200
      for (const [entry, shard] of shardOf) {
        const response = await entry.browser.request(`${url}/api/me`)
        expect(response.status).toBe(shard === victim ? 503 : 200)
        if (shard === victim) expect(response.header('retry-after')).toBeTruthy()
      }

      // the replica takes over; the app follows the slots it now serves, without a restart
      expect(await own.cli(replica.port, 'cluster', 'failover', 'takeover')).toBe('OK')
      const victims = browsers.filter((entry) => shardOf.get(entry) === victim)
      const seen = new Set<number>()
      const deadline = Date.now() + 60_000
      for (;;) {
        const answers = await Promise.all(victims.map(({ browser }) => status(browser, url)))
        for (const answer of answers) seen.add(answer)
        if (answers.every((answer) => answer === 200)) break
        if (Date.now() > deadline) throw new Error(`still ${answers.join(', ')} after the takeover`)
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
      // on the way back: only 503 or 200
      expect([...seen].filter((answer) => answer !== 503 && answer !== 200)).toEqual([])
      for (const { browser } of browsers) expect(await status(browser, url)).toBe(200)
    } finally {
      await stack?.close()
      await own.stop()
    }
  }, 120_000)
})

/** Every session key of `redis`, per master port. */
async function keysOf(redis: RedisCluster): Promise<Map<number, string[]>> {
  const keys = new Map<number, string[]>()
  for (const node of await redis.nodes()) {
    if (node.role !== 'master' || node.failed) continue
    const listed = await redis.cli(node.port, '--scan', '--pattern', 'codeflow:session:*')
    keys.set(
      node.port,
      listed.split('\n').filter((key) => key !== '' && !key.includes(':lock:')),
    )
  }
  return keys
}

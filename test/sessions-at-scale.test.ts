/**
 * Sessions at scale (issue 5): server-side sessions in Redis shared by instances, idle and
 * absolute lifetimes, the provider's session_expiry, browser-session cookies, secret rotation and
 * Redis outages, on every adapter and with both session stores.
 */
import { createClient } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import type { Browser } from './support/browser.js'
import { testClock } from './support/clock.js'
import { signIn } from './support/flow.js'
import { type RedisServer, startRedis } from './support/redis.js'
import { SECRET, type StackOptions, startStack } from './support/stack.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis?.stop())

function sessionCookies(browser: Browser, baseUrl: string): string[] {
  const host = new URL(baseUrl).hostname
  return browser.cookies
    .filter((c) => c.host === host && /^codeflow(\.\d+)?$/.test(c.name))
    .map((c) => `${c.name}=${c.value}`)
}

async function me(browser: Browser, baseUrl: string): Promise<number> {
  return (await browser.request(`${baseUrl}/api/me`)).status
}

const groups = Array.from(
  { length: 700 },
  (_, i) => `group-${i.toString().padStart(4, '0')}-of-a-big-tenant-x`,
)

describe.each(harnesses)('sessions in Redis ($name)', (harness) => {
  it('keeps a 20 KB-claims session in Redis with a cookie under 500 bytes, sealed', async () => {
    const stack = await startStack(harness, {
      redisUrl: redis.url,
      provider: { claims: { groups } },
    })
    try {
      expect(JSON.stringify(groups).length).toBeGreaterThan(20 * 1024)
      const browser = stack.browser()
      const callback = await signIn(browser, stack.baseUrl)
      expect(callback.status).toBe(302)
      const cookies = callback.setCookies.filter((c) => /^codeflow(\.\d+)?=[^;]/.test(c))
      expect(cookies).toHaveLength(1)
      // what the browser sends back on every request: name=value
      // (the reference, and the user's sub, sid and login time: the read's revocation check goes
      // out beside the store's read)
      const sent = (cookies[0] as string).split(';')[0] as string
      expect(sent.length).toBeLessThan(500)
      const response = await browser.request(`${stack.baseUrl}/api/me`)
      expect(response.status).toBe(200)
      expect(response.json().groups).toEqual(groups)
      // Redis holds the session sealed, with a TTL, under the codeflow prefix
      const client = createClient({ url: redis.url })
      await client.connect()
      try {
        const keys = await client.keys('codeflow:session:*')
        expect(keys.length).toBeGreaterThan(0)
        for (const key of keys) {
          const value = (await client.get(key)) as string
          expect(value.startsWith('Fe26.2*')).toBe(true)
          expect(value).not.toContain('group-0001')
          expect(value).not.toContain('alice@example.test')
          const ttl = await client.ttl(key)
          expect(ttl).toBeGreaterThan(0)
          expect(ttl).toBeLessThanOrEqual(24 * 3600)
        }
      } finally {
        client.destroy()
      }
    } finally {
      await stack.close()
    }
  })

  it('shares sessions between two instances; a logout on one ends it on the other; a restart keeps it', async () => {
    const stack = await startStack(harness, { redisUrl: redis.url, instances: 2 })
    try {
      const [a, b] = stack.instances as [(typeof stack.instances)[0], (typeof stack.instances)[0]]
      const browser = stack.browser()
      await signIn(browser, a.baseUrl, { login: 'shared' })
      // cookies ignore ports: the same browser carries the session to instance b
      expect(await me(browser, a.baseUrl)).toBe(200)
      expect((await browser.request(`${b.baseUrl}/api/me`)).json().sub).toBe('shared')

      await b.restart()
      expect(await me(browser, b.baseUrl)).toBe(200)

      const copied = sessionCookies(browser, a.baseUrl).join('; ')
      const logout = await browser.postForm(`${a.baseUrl}/logout`, {}, { origin: a.baseUrl })
      expect(logout.status).toBe(303)
      expect(await me(browser, b.baseUrl)).toBe(401)
      // the copied cookie is dead everywhere: its data was deleted
      for (const instance of [a, b]) {
        const replay = await browser.request(`${instance.baseUrl}/api/me`, {
          cookies: false,
          headers: { cookie: copied },
        })
        expect(replay.status).toBe(401)
      }
    } finally {
      await stack.close()
    }
  })

  it('rotates the session id at every login and deletes the previous session', async () => {
    const stack = await startStack(harness, { redisUrl: redis.url })
    try {
      const browser = stack.browser()
      await signIn(browser, stack.baseUrl)
      const first = sessionCookies(browser, stack.baseUrl).join('; ')
      await signIn(browser, stack.baseUrl)
      const second = sessionCookies(browser, stack.baseUrl).join('; ')
      expect(second).not.toBe(first)
      const old = await browser.request(`${stack.baseUrl}/api/me`, {
        cookies: false,
        headers: { cookie: first },
      })
      expect(old.status).toBe(401)
      expect(await me(browser, stack.baseUrl)).toBe(200)
    } finally {
      await stack.close()
    }
  })

  it('answers 503 while Redis is down, never a 500 or an anonymous page', async () => {
    const own = await startRedis()
    const stack = await startStack(harness, { redisUrl: own.url })
    try {
      const browser = stack.browser()
      await signIn(browser, stack.baseUrl)
      expect(await me(browser, stack.baseUrl)).toBe(200)
      await own.stop()
      const api = await browser.request(`${stack.baseUrl}/api/me`)
      expect(api.status).toBe(503)
      expect(api.header('retry-after')).toBeTruthy()
      expect(api.json()).toMatchObject({ error: 'session_store_unavailable' })
      const page = await browser.navigate(`${stack.baseUrl}/profile`)
      expect(page.status).toBe(503)
      expect(page.body).not.toMatch(/at .*\.js:\d+/)
      const home = await browser.navigate(`${stack.baseUrl}/`)
      expect(home.status).toBe(503)
      expect(home.body).not.toContain('You are not signed in')
    } finally {
      await stack.close()
      await own.stop()
    }
  })
})

/** The two session stores every lifetime rule is checked with. */
const stores: { name: string; options: () => StackOptions }[] = [
  { name: 'cookie', options: () => ({}) },
  { name: 'redis', options: () => ({ redisUrl: redis.url }) },
]

describe.each(harnesses)('session lifetimes ($name)', (harness) => {
  // the one scenario on real time, with the default clock: proof that it is wired. It asserts
  // only what real time passing guarantees, with seconds of margin on both sides
  it.concurrent('ends an idle session by real time (the default clock)', async () => {
    const stack = await startStack(harness, { auth: { session: { idleDuration: 8 } } })
    try {
      const browser = stack.browser()
      await signIn(browser, stack.baseUrl)
      // at most seconds after the login: 8 s of idle time left
      expect(await me(browser, stack.baseUrl)).toBe(200)
      // the browser drops the cookie at its Max-Age (the same 8 s): a copy of it is sent instead,
      // so that the server's clock is what refuses it
      const copied = sessionCookies(browser, stack.baseUrl).join('; ')
      // past the idle end, whatever the rounding to seconds and a touch by the read above
      await sleep(9_500)
      const late = await browser.request(`${stack.baseUrl}/api/me`, {
        cookies: false,
        headers: { cookie: copied },
      })
      expect(late.status).toBe(401)
    } finally {
      await stack.close()
    }
  })

  // the others on a test clock: minutes of session time pass at an advance, so that the seconds
  // a loaded machine takes between two requests cannot end a session early
  describe.each(stores)('with the $name store', (store) => {
    it.concurrent('ends an idle session, from the time sealed in it', async () => {
      const clock = testClock()
      const stack = await startStack(harness, {
        ...store.options(),
        clock,
        auth: { session: { idleDuration: 60 } },
      })
      try {
        const browser = stack.browser()
        await signIn(browser, stack.baseUrl)
        expect(await me(browser, stack.baseUrl)).toBe(200)
        await clock.advance(96_000)
        expect(await me(browser, stack.baseUrl)).toBe(401)
      } finally {
        await stack.close()
      }
    })

    it.concurrent('keeps an active session alive past the idle time (rolling)', async () => {
      const clock = testClock()
      const stack = await startStack(harness, {
        ...store.options(),
        clock,
        auth: { session: { idleDuration: 60 } },
      })
      try {
        const browser = stack.browser()
        await signIn(browser, stack.baseUrl)
        // 6 × 18 s: almost twice the idle time in all
        for (let i = 0; i < 6; i++) {
          await clock.advance(18_000)
          expect(await me(browser, stack.baseUrl)).toBe(200)
        }
      } finally {
        await stack.close()
      }
    })

    it.concurrent('ends a session at its absolute lifetime despite activity', async () => {
      const clock = testClock()
      const stack = await startStack(harness, {
        ...store.options(),
        clock,
        auth: { session: { absoluteDuration: 60, idleDuration: false } },
      })
      try {
        const browser = stack.browser()
        await signIn(browser, stack.baseUrl)
        expect(await me(browser, stack.baseUrl)).toBe(200)
        await clock.advance(30_000)
        expect(await me(browser, stack.baseUrl)).toBe(200)
        await clock.advance(54_000)
        expect(await me(browser, stack.baseUrl)).toBe(401)
      } finally {
        await stack.close()
      }
    })

    it.concurrent('caps the session at the provider session_expiry claim', async () => {
      const clock = testClock()
      const stack = await startStack(harness, {
        ...store.options(),
        clock,
        provider: {
          claims: () => ({ session_expiry: Math.floor(clock.now() / 1000) + 60 }),
          claimNames: ['session_expiry'],
        },
      })
      try {
        const browser = stack.browser()
        await signIn(browser, stack.baseUrl)
        expect(await me(browser, stack.baseUrl)).toBe(200)
        await clock.advance(96_000)
        expect(await me(browser, stack.baseUrl)).toBe(401)
      } finally {
        await stack.close()
      }
    })

    it.concurrent('expires a browser-session cookie on the server too', async () => {
      const clock = testClock()
      const stack = await startStack(harness, {
        ...store.options(),
        clock,
        auth: { session: { persistent: false, idleDuration: 60 } },
      })
      try {
        const browser = stack.browser()
        const callback = await signIn(browser, stack.baseUrl)
        const header = callback.setCookies.find((c) => /^codeflow(\.0)?=[^;]/.test(c)) as string
        expect(header).toBeDefined()
        expect(header).not.toMatch(/Max-Age|Expires/)
        await clock.advance(96_000)
        // the browser still sends it; the server refuses it
        expect(sessionCookies(browser, stack.baseUrl).length).toBeGreaterThan(0)
        expect(await me(browser, stack.baseUrl)).toBe(401)
      } finally {
        await stack.close()
      }
    })

    it.concurrent('accepts cookies of a retired secret while it is listed, resealed with the newest', async () => {
      const stack = await startStack(harness, store.options())
      try {
        const browser = stack.browser()
        await signIn(browser, stack.baseUrl)
        const old = sessionCookies(browser, stack.baseUrl).join('; ')
        expect(old).toMatch(/=Fe26\.2\*1\*/)
        const newer = 'another-session-secret-of-32-characters-or-more'
        const instance = stack.instances[0] as (typeof stack.instances)[0]
        await instance.restart({ secret: { 1: SECRET, 2: newer } })
        const read = await browser.request(`${stack.baseUrl}/api/me`)
        expect(read.status).toBe(200)
        // resealed with the newest password (id 2)
        expect(read.setCookies.some((c) => /^codeflow(\.0)?=Fe26\.2\*2\*/.test(c))).toBe(true)
        await instance.restart({ secret: { 2: newer } })
        expect(await me(browser, stack.baseUrl)).toBe(200)
        const retired = await browser.request(`${stack.baseUrl}/api/me`, {
          cookies: false,
          headers: { cookie: old },
        })
        expect(retired.status).toBe(401)
      } finally {
        await stack.close()
      }
    })
  })
})

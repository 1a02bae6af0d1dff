/**
 * Access tokens (issue 6): race-free refresh under parallel requests, in one process and across
 * instances sharing Redis; invalid_grant, another subject and provider faults at refresh; the
 * refresh margin; userinfo at login. Against the scripted provider, whose token endpoint the
 * tests control. Time passes on a test clock (test/support/clock.ts) that the apps and the
 * provider follow, except in the first scenario, which proves the default clock on real time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import type { Browser, BrowserResponse } from './support/browser.js'
import { type TestClock, testClock } from './support/clock.js'
import { signIn } from './support/flow.js'
import { type RedisServer, startRedis } from './support/redis.js'
import { type ScriptedStack, startScriptedStack } from './support/stack.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis?.stop())

/** Signs in with a 1-second access token: expired once a test waits or advances past it. */
async function signInExpired(stack: ScriptedStack, browser: Browser, login: string): Promise<void> {
  stack.provider.subject = login
  stack.provider.accessTokenTtl = 1
  expect((await signIn(browser, stack.baseUrl)).status).toBe(302)
}

/** The session cookie a response set, or the one the browser had. */
function sub(response: BrowserResponse): Promise<string> {
  return Promise.resolve(response.json<{ sub: string }>().sub)
}

describe.each(harnesses)('access token refresh ($name)', (harness) => {
  // the one scenario on real time, with the default clock: proof that it is wired. Real time
  // passing can only expire the 1-second token; the refreshed one lives an hour
  it('makes exactly one refresh grant for 20 parallel requests with an expired token', async () => {
    const stack = await startScriptedStack(harness, { auth: { refreshMargin: 0 } })
    try {
      const browser = stack.browser()
      await signInExpired(stack, browser, 'alice')
      await sleep(1500)
      stack.provider.accessTokenTtl = 3600
      const before = stack.provider.counts('refresh')
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => browser.request(`${stack.baseUrl}/api/token`)),
      )
      for (const response of responses) {
        expect(response.status).toBe(200)
        expect(response.json<{ expiresAt: number }>().expiresAt).toBeGreaterThan(
          Date.now() / 1000 + 3000,
        )
      }
      expect(stack.provider.counts('refresh')).toBe(before + 1)
      // the browser kept a session with the rotated tokens: no further refresh, still alice
      expect((await browser.request(`${stack.baseUrl}/api/token`)).status).toBe(200)
      expect(stack.provider.counts('refresh')).toBe(before + 1)
      expect((await browser.request(`${stack.baseUrl}/api/me`)).json().sub).toBe('alice')
    } finally {
      await stack.close()
    }
  })

  it('makes exactly one refresh grant across two instances sharing Redis', async () => {
    const clock = testClock()
    const stack = await startScriptedStack(harness, {
      auth: { refreshMargin: 0 },
      redisUrl: redis.url,
      instances: 2,
      clock,
    })
    try {
      const [a, b] = stack.instances as [(typeof stack.instances)[0], (typeof stack.instances)[0]]
      const browser = stack.browser()
      await signInExpired(stack, browser, 'carol')
      await clock.advance(1500)
      stack.provider.accessTokenTtl = 3600
      const before = stack.provider.counts('refresh')
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          browser.request(`${(i % 2 === 0 ? a : b).baseUrl}/api/token`),
        ),
      )
      for (const response of responses) expect(response.status).toBe(200)
      expect(stack.provider.counts('refresh')).toBe(before + 1)
      expect((await browser.request(`${b.baseUrl}/api/me`)).json().sub).toBe('carol')
    } finally {
      await stack.close()
    }
  })

  it('never gives one user another user’s session: two users × 20 parallel requests', async () => {
    const clock = testClock()
    const stack = await startScriptedStack(harness, { auth: { refreshMargin: 0 }, clock })
    try {
      const users = ['dora', 'emil']
      const browsers = users.map(() => stack.browser())
      for (const [index, user] of users.entries()) {
        await signInExpired(stack, browsers[index] as Browser, user)
      }
      await clock.advance(1500)
      stack.provider.accessTokenTtl = 3600
      const before = stack.provider.counts('refresh')
      const results = await Promise.all(
        users.flatMap((user, index) =>
          Array.from({ length: 20 }, async () => {
            const browser = browsers[index] as Browser
            const response = await browser.request(`${stack.baseUrl}/api/token`)
            expect(response.status).toBe(200)
            // whatever session this response set, it is this user's
            const cookies = response.setCookies
              .filter((c) => /^codeflow(\.\d+)?=[^;]/.test(c))
              .map((c) => c.split(';')[0])
            if (cookies.length > 0) {
              const me = await browser.request(`${stack.baseUrl}/api/me`, {
                cookies: false,
                headers: { cookie: cookies.join('; ') },
              })
              expect(await sub(me)).toBe(user)
            }
            return user
          }),
        ),
      )
      expect(results).toHaveLength(40)
      expect(stack.provider.counts('refresh')).toBe(before + 2)
      for (const [index, user] of users.entries()) {
        const me = await (browsers[index] as Browser).request(`${stack.baseUrl}/api/me`)
        expect(me.json().sub).toBe(user)
      }
    } finally {
      await stack.close()
    }
  })

  it('keeps the old refresh token when the response has no new one', async () => {
    const clock = testClock()
    const stack = await startScriptedStack(harness, { auth: { refreshMargin: 0 }, clock })
    try {
      const browser = stack.browser()
      await signInExpired(stack, browser, 'fay')
      stack.provider.refresh = 'keep'
      // refreshed tokens live 2 minutes: one refresh per round, however the adapter splits a
      // request (and however long a loaded machine takes over it)
      stack.provider.accessTokenTtl = 120
      for (let round = 0; round < 2; round++) {
        await clock.advance(round === 0 ? 1500 : 150_000)
        expect((await browser.request(`${stack.baseUrl}/api/token`)).status).toBe(200)
      }
      expect(stack.provider.counts('refresh')).toBe(2)
    } finally {
      await stack.close()
    }
  })
})

describe.each(harnesses)('refresh failures ($name)', (harness) => {
  let stack: ScriptedStack
  let clock: TestClock
  beforeAll(async () => {
    clock = testClock()
    stack = await startScriptedStack(harness, {
      auth: { refreshMargin: 0, httpTimeout: 700 },
      clock,
    })
  })
  afterAll(() => stack?.close())

  async function expired(login: string): Promise<Browser> {
    stack.provider.refresh = 'rotate'
    const browser = stack.browser()
    await signInExpired(stack, browser, login)
    await clock.advance(1200)
    return browser
  }

  it('ends the session cleanly on invalid_grant: 401 for the API, login for pages, no loop', async () => {
    const browser = await expired('gil')
    stack.provider.refresh = 'invalid_grant'
    const before = stack.provider.counts('refresh')
    const response = await browser.request(`${stack.baseUrl}/api/token`)
    expect(response.status).toBe(401)
    expect(response.json()).toMatchObject({ error: 'unauthenticated' })
    expect(response.setCookies.some((c) => /^codeflow=;.*Max-Age=0/.test(c))).toBe(true)
    expect(stack.provider.counts('refresh')).toBe(before + 1)
    expect((await browser.request(`${stack.baseUrl}/api/me`)).status).toBe(401)
    const page = await browser.navigate(`${stack.baseUrl}/profile`)
    expect(page.status).toBe(302)
    expect(page.location?.pathname).toBe('/login')
    expect(stack.provider.counts('refresh')).toBe(before + 1)
  })

  it('ends the session when the refreshed ID token is about another user', async () => {
    const browser = await expired('hal')
    stack.provider.refresh = 'other_subject'
    const response = await browser.request(`${stack.baseUrl}/api/token`)
    expect(response.status).toBe(401)
    expect((await browser.request(`${stack.baseUrl}/api/me`)).status).toBe(401)
  })

  it('answers 504 when the provider hangs, and keeps the session', async () => {
    const browser = await expired('ida')
    stack.provider.refresh = 'hang'
    const response = await browser.request(`${stack.baseUrl}/api/token`)
    expect(response.status).toBe(504)
    expect(response.json()).toMatchObject({ error: 'provider_timeout' })
    stack.provider.refresh = 'rotate'
    expect((await browser.request(`${stack.baseUrl}/api/me`)).status).toBe(200)
    // past the 2-second memory of the failure
    await clock.advance(2100)
    expect((await browser.request(`${stack.baseUrl}/api/token`)).status).toBe(200)
  })

  it('retries a broken provider twice, then answers 502 and keeps the session', async () => {
    const browser = await expired('jon')
    stack.provider.refresh = 'server_error'
    const before = stack.provider.counts('refresh')
    const response = await browser.request(`${stack.baseUrl}/api/token`)
    expect(response.status).toBe(502)
    expect(stack.provider.counts('refresh')).toBe(before + 3)
    expect(response.body).not.toContain('Internal Server Error')
    // right after, the same refresh fails at once without hitting the provider again
    const again = await browser.request(`${stack.baseUrl}/api/token`)
    expect(again.status).toBe(502)
    expect(stack.provider.counts('refresh')).toBe(before + 3)
    // once the provider is back (and the short failure memory has passed), it works again
    stack.provider.refresh = 'rotate'
    await clock.advance(2100)
    expect((await browser.request(`${stack.baseUrl}/api/token`)).status).toBe(200)
  })
})

describe.each(harnesses)('refresh margin ($name)', (harness) => {
  // expiresAt and the margin are whole seconds, and the clock runs on in real time: "121 s
  // before the expiry" holds for one second after the advance, in which the request is served
  it('refreshes only within refreshMargin of the expiry: not at 121 s before, once at 119 s', async () => {
    const clock = testClock()
    const stack = await startScriptedStack(harness, { auth: { refreshMargin: 120 }, clock })
    try {
      const browser = stack.browser()
      stack.provider.accessTokenTtl = 3600
      expect((await signIn(browser, stack.baseUrl)).status).toBe(302)
      const first = await browser.request(`${stack.baseUrl}/api/token`)
      expect(first.status).toBe(200)
      const expiresAt = first.json<{ expiresAt: number }>().expiresAt
      // the 3600 s token of the login, by the app's clock
      expect(expiresAt * 1000 - clock.now()).toBeGreaterThan(3500_000)
      expect(stack.provider.counts('refresh')).toBe(0)

      await clock.advanceTo((expiresAt - 121) * 1000)
      const outside = await browser.request(`${stack.baseUrl}/api/token`)
      expect(outside.status).toBe(200)
      expect(outside.json<{ expiresAt: number }>().expiresAt).toBe(expiresAt)
      expect(stack.provider.counts('refresh')).toBe(0)

      await clock.advanceTo((expiresAt - 119) * 1000)
      const inside = await browser.request(`${stack.baseUrl}/api/token`)
      expect(inside.status).toBe(200)
      expect(inside.json<{ expiresAt: number }>().expiresAt).toBeGreaterThan(expiresAt)
      expect(stack.provider.counts('refresh')).toBe(1)
    } finally {
      await stack.close()
    }
  })
})

describe.each(harnesses)('userinfo at login ($name)', (harness) => {
  it('merges userinfo claims, and refuses a userinfo about another subject', async () => {
    const stack = await startScriptedStack(harness, { auth: { fetchUserinfo: true } })
    try {
      const browser = stack.browser()
      expect((await signIn(browser, stack.baseUrl)).status).toBe(302)
      expect((await browser.request(`${stack.baseUrl}/api/me`)).json()).toMatchObject({
        sub: 'alice',
        email: 'alice@scripted.test',
        name: 'Scripted alice',
      })
      stack.provider.userinfoSubject = 'mallory'
      const other = stack.browser()
      const response = await signIn(other, stack.baseUrl)
      expect(response.status).toBe(502)
      expect(response.setCookies.filter((c) => /^codeflow(\.\d+)?=[^;]/.test(c))).toEqual([])
      expect((await other.request(`${stack.baseUrl}/api/me`)).status).toBe(401)
    } finally {
      await stack.close()
    }
  })
})

/**
 * Front-channel logout (OpenID Connect Front-Channel Logout 1.0) on every adapter: the provider's
 * iframe loads /frontchannel-logout with `iss` and `sid`. A cross-site iframe does not carry our
 * SameSite=Lax cookie, so the session ends through the revocation of its sid: on this instance,
 * and on every instance sharing the Redis revocation store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import type { Browser } from './support/browser.js'
import { signIn } from './support/flow.js'
import { providerSid } from './support/provider-logout.js'
import { type RedisServer, startRedis } from './support/redis.js'
import { CLIENT_ID, type Stack, startStack } from './support/stack.js'

/** What a browser sends for a cross-site iframe: no SameSite=Lax cookies. */
const IFRAME = {
  'sec-fetch-dest': 'iframe',
  'sec-fetch-mode': 'navigate',
  'sec-fetch-site': 'cross-site',
  accept: 'text/html',
}

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis?.stop())

function frontchannelUrl(baseUrl: string, query: Record<string, string>): string {
  return `${baseUrl}/frontchannel-logout?${new URLSearchParams(query)}`
}

describe.each(harnesses)('front-channel logout ($name)', (harness) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(harness)
  })
  afterAll(() => stack?.close())

  async function signedIn(): Promise<{ browser: Browser; sid: string }> {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    return { browser, sid: await providerSid(stack.provider, browser, CLIENT_ID) }
  }

  const me = async (browser: Browser) => (await browser.request(`${stack.baseUrl}/api/me`)).status

  it('ends the session from a cross-site iframe that carries no cookie, with a no-store page', async () => {
    const { browser, sid } = await signedIn()
    const bystander = await signedIn()
    const url = frontchannelUrl(stack.baseUrl, { iss: stack.provider.issuer, sid })
    const response = await browser.request(url, { headers: IFRAME, cookies: false })
    expect(response.status).toBe(200)
    expect(response.header('content-type')).toMatch(/^text\/html/)
    expect(response.header('cache-control')).toBe('no-store')
    expect(response.header('x-frame-options')).toBeUndefined()
    expect(response.body).toContain('signed out')
    expect(response.setCookies).toEqual([])
    expect(await me(browser)).toBe(401)
    expect(await me(bystander.browser)).toBe(200)
  })

  it("clears this browser's cookie when it comes along and its session has that sid", async () => {
    const { browser, sid } = await signedIn()
    const url = frontchannelUrl(stack.baseUrl, { iss: stack.provider.issuer, sid })
    const response = await browser.request(url, {
      headers: { ...IFRAME, 'sec-fetch-site': 'same-site' },
    })
    expect(response.status).toBe(200)
    expect(response.setCookies.some((c) => /^codeflow=;.*Max-Age=0/.test(c))).toBe(true)
    expect(await me(browser)).toBe(401)
  })

  it('rejects a wrong or missing iss, and a missing sid, with 400, and changes nothing', async () => {
    const { browser, sid } = await signedIn()
    const cases: Record<string, string>[] = [
      { iss: 'https://evil.example', sid },
      { iss: `${stack.provider.issuer}/`, sid },
      { sid },
      { iss: stack.provider.issuer },
      {},
    ]
    for (const query of cases) {
      const response = await browser.request(frontchannelUrl(stack.baseUrl, query), {
        headers: IFRAME,
      })
      expect(response.status, JSON.stringify(query)).toBe(400)
      expect(response.setCookies).toEqual([])
    }
    expect(await me(browser)).toBe(200)
  })
})

describe.each(harnesses)('front-channel logout across instances ($name)', (harness) => {
  it('ends the session on the other instance through the Redis revocation store', async () => {
    const stack = await startStack(harness, {
      redisUrl: redis.url,
      redisSessions: false,
      instances: 2,
    })
    try {
      const [a, b] = stack.instances.map((instance) => instance.baseUrl) as [string, string]
      const browser = stack.browser()
      await signIn(browser, a)
      const sid = await providerSid(stack.provider, browser, CLIENT_ID)
      expect((await browser.request(`${b}/api/me`)).status).toBe(200)
      const url = frontchannelUrl(a, { iss: stack.provider.issuer, sid })
      expect((await browser.request(url, { headers: IFRAME, cookies: false })).status).toBe(200)
      expect((await browser.request(`${b}/api/me`)).status).toBe(401)
      expect((await browser.request(`${a}/api/me`)).status).toBe(401)
    } finally {
      await stack.close()
    }
  })
})

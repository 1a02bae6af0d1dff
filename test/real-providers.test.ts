/**
 * What real providers send that codeflow's own providers never did (issue 15), on every adapter,
 * against the scripted provider: a key rotation right before a login, a refresh or a logout
 * token; a token type other than Bearer; client authentication in the form body, for a provider
 * that lists only that method or does not form-decode Basic credentials; tokens with a big
 * tenant's groups in cookie sessions.
 */
import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import { expectAnonymous, expectRefused } from './support/attacks.js'
import type { Browser, BrowserResponse } from './support/browser.js'
import { testClock } from './support/clock.js'
import { authorize, signIn, startLogin } from './support/flow.js'
import { captureLogs } from './support/logs.js'
import { type ScriptedStack, startScriptedStack } from './support/stack.js'

const EVENT = 'http://schemas.openid.net/event/backchannel-logout'

/** A whole login against the scripted provider; the callback's response. */
async function login(stack: ScriptedStack, browser: Browser): Promise<BrowserResponse> {
  const callback = await authorize(browser, await startLogin(browser, stack.baseUrl))
  return browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
}

async function me(stack: ScriptedStack, browser: Browser): Promise<number> {
  return (await browser.request(`${stack.baseUrl}/api/me`)).status
}

describe.each(harnesses)('signing key rotation ($name)', (harness) => {
  it('signs in right after the provider rotated to a new key, with one JWKS fetch', async () => {
    const stack = await startScriptedStack(harness)
    try {
      expect((await login(stack, stack.browser())).status).toBe(302)
      await stack.provider.rotateKey({ retire: true })
      const before = stack.provider.counts('jwks')
      const browser = stack.browser()
      expect((await login(stack, browser)).status).toBe(302)
      expect(await me(stack, browser)).toBe(200)
      expect(stack.provider.counts('jwks')).toBe(before + 1)
      // the next login under the same key needs no fetch
      expect((await login(stack, stack.browser())).status).toBe(302)
      expect(stack.provider.counts('jwks')).toBe(before + 1)
    } finally {
      await stack.close()
    }
  })

  it('refreshes when the refreshed ID token is signed with a key rotated in since the login', async () => {
    const clock = testClock()
    const stack = await startScriptedStack(harness, { auth: { refreshMargin: 0 }, clock })
    try {
      stack.provider.accessTokenTtl = 60
      const browser = stack.browser()
      expect((await signIn(browser, stack.baseUrl)).status).toBe(302)
      await stack.provider.rotateKey({ retire: true })
      await clock.advance(61_000)
      const before = stack.provider.counts('refresh')
      const token = await browser.request(`${stack.baseUrl}/api/token`)
      expect(token.status).toBe(200)
      expect(stack.provider.counts('refresh')).toBe(before + 1)
      expect(await me(stack, browser)).toBe(200)
    } finally {
      await stack.close()
    }
  })

  it('accepts a logout token signed with a key rotated in since the last fetch', async () => {
    const stack = await startScriptedStack(harness)
    try {
      const logout = async (sub: string) => {
        const now = Math.floor(Date.now() / 1000)
        const token = await stack.provider.sign(
          {
            iss: stack.provider.issuer,
            aud: stack.provider.clientId,
            iat: now,
            jti: `${sub}-${now}-${stack.provider.kid}`,
            events: { [EVENT]: {} },
            sub,
          },
          { typ: 'logout+jwt' },
        )
        return stack.browser().request(`${stack.baseUrl}/backchannel-logout`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ logout_token: token }).toString(),
          cookies: false,
        })
      }
      const browser = stack.browser()
      expect((await login(stack, browser)).status).toBe(302)
      // another user's logout first: the app has fetched the keys for logout tokens before
      expect((await logout('someone-else')).status).toBe(200)
      await stack.provider.rotateKey({ retire: true })
      expect((await logout('alice')).status).toBe(200)
      expect(await me(stack, browser)).toBe(401)
    } finally {
      await stack.close()
    }
  })
})

describe.each(harnesses)('token types (RFC 6749 §7.1) ($name)', (harness) => {
  it('accepts Bearer in any case', async () => {
    const stack = await startScriptedStack(harness)
    try {
      for (const type of ['bearer', 'BEARER']) {
        stack.provider.tokenType = type
        const browser = stack.browser()
        expect((await login(stack, browser)).status).toBe(302)
        expect(await me(stack, browser)).toBe(200)
      }
    } finally {
      await stack.close()
    }
  })

  it.each(['DPoP', 'mac', 'N_A'])(
    'refuses a login whose token type is %s (never requested): 502, no session',
    async (type) => {
      const stack = await startScriptedStack(harness)
      try {
        stack.provider.tokenType = type
        const browser = stack.browser()
        expectRefused(await login(stack, browser), 502)
        await expectAnonymous(browser, stack.baseUrl)
      } finally {
        await stack.close()
      }
    },
  )

  it('refuses a refresh answered with the DPoP token type: 502, the session kept', async () => {
    const clock = testClock()
    const stack = await startScriptedStack(harness, { auth: { refreshMargin: 0 }, clock })
    try {
      stack.provider.accessTokenTtl = 60
      const browser = stack.browser()
      expect((await signIn(browser, stack.baseUrl)).status).toBe(302)
      await clock.advance(61_000)
      stack.provider.tokenType = 'DPoP'
      const token = await browser.request(`${stack.baseUrl}/api/token`)
      expect(token.status).toBe(502)
      expect(await me(stack, browser)).toBe(200)
    } finally {
      await stack.close()
    }
  })
})

describe.each(harnesses)('client authentication ($name)', (harness) => {
  it('signs in, refreshes and revokes with client_secret_post when the provider lists only it', async () => {
    const clock = testClock()
    const stack = await startScriptedStack(harness, { auth: { refreshMargin: 0 }, clock })
    try {
      // and it does not form-decode Basic credentials: "scripted-client" sent as "scripted%2Dclient"
      stack.provider.clientAuthMethods = ['client_secret_post']
      stack.provider.decodesBasic = false
      stack.provider.accessTokenTtl = 60
      const browser = stack.browser()
      expect((await signIn(browser, stack.baseUrl)).status).toBe(302)
      await clock.advance(61_000)
      expect((await browser.request(`${stack.baseUrl}/api/token`)).status).toBe(200)
      const logout = await browser.postForm(
        `${stack.baseUrl}/logout`,
        {},
        { origin: stack.baseUrl },
      )
      expect(logout.status).toBe(303)
      expect(stack.provider.revoked).toHaveLength(1)
    } finally {
      await stack.close()
    }
  })

  it('uses client_secret_post when configured, though the provider lists Basic first', async () => {
    const stack = await startScriptedStack(harness, { auth: { clientAuth: 'client_secret_post' } })
    try {
      stack.provider.clientAuthMethods = ['client_secret_basic', 'client_secret_post']
      stack.provider.decodesBasic = false
      const browser = stack.browser()
      expect((await login(stack, browser)).status).toBe(302)
      expect(await me(stack, browser)).toBe(200)
    } finally {
      await stack.close()
    }
  })
})

/** `count` group ids as Entra sends them (GUIDs): 39 bytes each in JSON. */
function guidGroups(count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const hex = createHash('sha256').update(`group-${i}`).digest('hex')
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
  })
}

function sessionCookies(response: BrowserResponse): string[] {
  return response.setCookies.filter((c) => /^codeflow(\.\d+)?=[^;]/.test(c))
}

describe.each(harnesses)('large claims in cookie sessions ($name)', (harness) => {
  it('signs in a user with 6 KB of groups in the ID token and the access token, in at most 3 cookies', async () => {
    const stack = await startScriptedStack(harness)
    try {
      const groups = guidGroups(155)
      expect(JSON.stringify(groups).length).toBeGreaterThan(6000)
      stack.provider.extraClaims = { groups }
      stack.provider.jwtAccessTokens = true
      const browser = stack.browser()
      const callback = await login(stack, browser)
      expect(callback.status).toBe(302)
      const cookies = sessionCookies(callback)
      expect(cookies.length).toBeGreaterThan(0)
      expect(cookies.length).toBeLessThanOrEqual(3)
      for (const cookie of cookies) expect(Buffer.byteLength(cookie)).toBeLessThanOrEqual(4096)
      const me = await browser.request(`${stack.baseUrl}/api/me`)
      expect(me.status).toBe(200)
      expect(me.json().groups).toEqual(groups)
      expect((await browser.request(`${stack.baseUrl}/api/token`)).status).toBe(200)
    } finally {
      await stack.close()
    }
  })

  it('refuses a login whose tokens alone do not fit in cookies: 502 naming session.store, no session', async () => {
    const stack = await startScriptedStack(harness)
    const logs = captureLogs(stack.instances[0] as (typeof stack.instances)[0])
    try {
      // incompressible claims in a JWT access token: nothing the session can leave out
      stack.provider.extraClaims = { blob: randomBytes(24 * 1024).toString('base64url') }
      stack.provider.jwtAccessTokens = true
      const browser = stack.browser()
      const callback = await login(stack, browser)
      expect(callback.status).toBe(502)
      expect(callback.header('cache-control')).toBe('no-store')
      expect(sessionCookies(callback)).toEqual([])
      expect(callback.body).not.toMatch(/at .*\.(js|ts):\d+/)
      expect(await me(stack, browser)).toBe(401)
      const lines = logs.lines().filter((line) => line.includes('session_too_large'))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain('"session.store"')
    } finally {
      logs.stop()
      await stack.close()
    }
  })

  it('keeps a user with 40 KB of groups signed in without them, and tells the operator to use a store', async () => {
    const stack = await startScriptedStack(harness)
    const logs = captureLogs(stack.instances[0] as (typeof stack.instances)[0])
    try {
      stack.provider.extraClaims = { groups: guidGroups(1000) }
      const browser = stack.browser()
      const callback = await login(stack, browser)
      expect(callback.status).toBe(302)
      expect(sessionCookies(callback).length).toBeLessThanOrEqual(3)
      const me = await browser.request(`${stack.baseUrl}/api/me`)
      expect(me.status).toBe(200)
      expect(me.json()).toMatchObject({ sub: 'alice', name: 'Scripted alice' })
      expect(me.json().groups).toBeUndefined()
      const lines = logs.lines().filter((line) => line.includes('session_trimmed'))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain('without the ID token and the claims groups')
      expect(lines[0]).toContain('set "session.store"')
    } finally {
      logs.stop()
      await stack.close()
    }
  })
})

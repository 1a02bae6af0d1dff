/**
 * Open redirects, logout CSRF, back-channel logout and refresh attacks on every adapter (issue 8).
 * The returnTo payloads complement test/redirects.test.ts (encodings, backslashes, controls,
 * schemes) with the classes it lacks: unicode hosts and separators, userinfo, numeric and IPv6
 * hosts, triple encoding, CRLF header injection; they run at login and at logout.
 */
import { randomBytes } from 'node:crypto'
import { SignJWT } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import { expectRefused, expectSameOrigin, MARKUP, setsSession } from './support/attacks.js'
import type { Browser, BrowserResponse } from './support/browser.js'
import { type TestClock, testClock } from './support/clock.js'
import { authorize, startLogin } from './support/flow.js'
import { type ScriptedStack, startScriptedStack } from './support/stack.js'

const CROSS_SITE = { 'sec-fetch-site': 'cross-site' }
const EVENT = 'http://schemas.openid.net/event/backchannel-logout'

/** returnTo values the app receives, of the classes test/redirects.test.ts does not cover. */
export function morePayloads(origin: string): string[] {
  const host = new URL(origin).host
  const hostname = new URL(origin).hostname
  return [
    // unicode hosts and separators
    'https://ｅｖｉｌ.example',
    '//ｅｖｉｌ.example',
    '/\uFF0F/evil.example',
    '/\uFF3Cevil.example',
    '//evil\u3002example',
    'https://evil\uFF0Eexample',
    `https://${hostname}\u2100evil.example`,
    '/\u2215\u2215evil.example',
    'https://xn--e1awd7f.example',
    `http://${host}\uFF20evil.example`,
    // userinfo
    '//user:pass@evil.example',
    `https://user@${host}/profile`,
    `${origin.replace('://', '://user:pass@')}/profile`,
    `http://${host}:80@evil.example`,
    'https://evil.example%40localhost',
    `//${hostname}%40evil.example`,
    `/%2F${hostname}@evil.example`,
    // numeric, IPv6 and look-alike hosts
    'http://2130706433/',
    'http://0x7f.0.0.1/',
    'http://[::ffff:7f00:1]/',
    `http://${hostname}.:${new URL(origin).port}/`,
    `${origin.toUpperCase()}/profile`,
    // more encodings
    '%25252F%25252Fevil.example',
    '/%255Cevil.example',
    '%2f%5cevil.example',
    '/%2e%2e//evil.example',
    '/.%2F%2Fevil.example',
    '%5C%5Cevil.example',
    // dangerous schemes
    'javascript://%0aalert(1)',
    'java\tscript:alert(1)',
    'file:///etc/passwd',
    'blob:https://evil.example/x',
    'ftp://evil.example',
    'data:,evil',
    'intent://evil.example#Intent;end',
    // CRLF and header injection
    '/%0d%0aLocation:%20https://evil.example',
    '/\r\nLocation: https://evil.example',
    '/%E5%98%8A%E5%98%8DLocation:https://evil.example',
    '/\u560a\u560dSet-Cookie:x=y',
    `/${MARKUP}`,
  ]
}

describe.each(harnesses)('redirect, logout and refresh attacks ($name)', (harness) => {
  let stack: ScriptedStack
  // the time of the app and of the hostile provider, moved on past access token expiries
  let clock: TestClock
  beforeAll(async () => {
    clock = testClock()
    stack = await startScriptedStack(harness, {
      auth: { httpTimeout: 1500, refreshMargin: 0 },
      clock,
    })
  })
  afterAll(() => stack?.close())
  afterEach(() => {
    stack.provider.forgery = undefined
    stack.provider.tokenFault = undefined
    stack.provider.accessTokenTtl = 3600
  })

  async function signedIn(): Promise<Browser> {
    const browser = stack.browser()
    const callback = await authorize(browser, await startLogin(browser, stack.baseUrl))
    expect((await browser.navigate(callback, CROSS_SITE)).status).toBe(302)
    return browser
  }

  const me = async (browser: Browser) => (await browser.request(`${stack.baseUrl}/api/me`)).status

  // open redirects

  it('never redirects off-origin after login: 40 more payload classes', async () => {
    const payloads = morePayloads(stack.baseUrl)
    expect(payloads.length).toBeGreaterThanOrEqual(40)
    const browser = stack.browser()
    for (const payload of payloads) {
      const start = await startLogin(browser, stack.baseUrl, payload)
      expect(start.status, payload).toBe(302)
      expect(start.location?.origin).toBe(stack.provider.issuer)
      const landing = await browser.navigate(await authorize(browser, start), CROSS_SITE)
      expect(landing.status, payload).toBe(302)
      expectSameOrigin(landing, stack.baseUrl, JSON.stringify(payload))
    }
  })

  it('never redirects off-origin after logout, by query and by form', async () => {
    const payloads = morePayloads(stack.baseUrl)
    const browser = stack.browser()
    for (const payload of payloads) {
      const byQuery = await browser.postForm(
        `${stack.baseUrl}/logout?returnTo=${encodeURIComponent(payload)}`,
        {},
        { origin: stack.baseUrl },
      )
      expect(byQuery.status, payload).toBe(303)
      expectSameOrigin(byQuery, stack.baseUrl, JSON.stringify(payload))
      const byForm = await browser.postForm(
        `${stack.baseUrl}/logout`,
        { returnTo: payload },
        { origin: stack.baseUrl },
      )
      expect(byForm.status, payload).toBe(303)
      expectSameOrigin(byForm, stack.baseUrl, JSON.stringify(payload))
    }
  })

  it('keeps the payloads of the first suite off-origin at logout too', async () => {
    const browser = stack.browser()
    for (const payload of [
      '//evil.example',
      '/\\evil.example',
      '/%2F/evil.example',
      'https://evil.example',
    ]) {
      const response = await browser.request(
        `${stack.baseUrl}/logout?returnTo=${encodeURIComponent(payload)}`,
        { headers: { 'sec-fetch-site': 'same-origin' } },
      )
      expect(response.status, payload).toBe(302)
      expectSameOrigin(response, stack.baseUrl, payload)
    }
  })

  // logout CSRF

  it.each([
    ['another port', (base: string) => base.replace(/:(\d+)$/, (_, p) => `:${Number(p) + 1}`)],
    ['a look-alike host', (base: string) => `${base}.evil.example`],
    ['https of the same host', (base: string) => base.replace('http:', 'https:')],
    ['a cross-site Origin with a same-origin fetch header', () => 'https://evil.example'],
  ])('refuses a logout POST from %s (403), keeping the session', async (_, origin) => {
    const browser = await signedIn()
    const response = await browser.postForm(
      `${stack.baseUrl}/logout`,
      {},
      { origin: origin(stack.baseUrl), 'sec-fetch-site': 'same-origin' },
    )
    expect(response.status).toBe(403)
    expect(response.setCookies).toEqual([])
    expect(await me(browser)).toBe(200)
  })

  it('refuses a cross-site text/plain logout POST (a CORS simple request)', async () => {
    const browser = await signedIn()
    const response = await browser.request(`${stack.baseUrl}/logout`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', ...CROSS_SITE, origin: 'https://evil.example' },
      body: 'returnTo=/x',
    })
    expect(response.status).toBe(403)
    expect(await me(browser)).toBe(200)
  })

  it('escapes returnTo in the cross-site confirmation page and changes nothing', async () => {
    const browser = await signedIn()
    const response = await browser.request(
      `${stack.baseUrl}/logout?returnTo=${encodeURIComponent(`/"><svg onload=alert(1)>${MARKUP}`)}`,
      { headers: CROSS_SITE },
    )
    expect(response.status).toBe(200)
    expect(response.header('cache-control')).toBe('no-store')
    expect(response.body).not.toContain('<svg')
    expect(response.body).not.toContain('<script>')
    expect(response.setCookies).toEqual([])
    expect(await me(browser)).toBe(200)
  })

  // back-channel logout tokens the other suite does not forge

  async function postLogoutToken(token: string): Promise<BrowserResponse> {
    return stack.browser().request(`${stack.baseUrl}/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: token }).toString(),
      cookies: false,
    })
  }

  function logoutClaims(): Record<string, unknown> {
    // issued by the provider's time, which is the clock's
    const now = Math.floor(clock.now() / 1000)
    return {
      iss: stack.provider.issuer,
      aud: stack.provider.clientId,
      iat: now,
      exp: now + 120,
      jti: randomBytes(12).toString('base64url'),
      events: { [EVENT]: {} },
      sub: 'alice',
    }
  }

  it('refuses a logout token MACed with the client secret (HS256), keeping sessions', async () => {
    const browser = await signedIn()
    const token = await new SignJWT(logoutClaims())
      .setProtectedHeader({ alg: 'HS256', typ: 'logout+jwt' })
      .sign(new TextEncoder().encode(stack.provider.clientSecret))
    const response = await postLogoutToken(token)
    expect(response.status).toBe(400)
    expect(response.header('cache-control')).toBe('no-store')
    expect(await me(browser)).toBe(200)
  })

  it('refuses a valid ID token posted as a logout token', async () => {
    const browser = await signedIn()
    const { events: _, ...claims } = logoutClaims()
    const response = await postLogoutToken(
      await stack.provider.sign({ ...claims, nonce: 'n' }, { typ: 'JWT' }),
    )
    expect(response.status).toBe(400)
    expect(await me(browser)).toBe(200)
  })

  it('accepts a genuine logout token from the hostile provider once', async () => {
    const browser = await signedIn()
    const token = await stack.provider.sign(logoutClaims(), { typ: 'logout+jwt' })
    const first = await postLogoutToken(token)
    expect(first.status).toBe(200)
    expect(first.header('cache-control')).toBe('no-store')
    expect(await me(browser)).toBe(401)
    expect((await postLogoutToken(token)).status).toBe(400)
  })

  it('fetches the JWKS at most once for a flood of logout tokens with unknown kids', async () => {
    const before = stack.provider.counts('jwks')
    const responses = await Promise.all(
      Array.from({ length: 20 }, async (_, i) =>
        postLogoutToken(
          await stack.provider.sign(logoutClaims(), { typ: 'logout+jwt', kid: `junk-${i}` }),
        ),
      ),
    )
    for (const response of responses) expect(response.status).toBe(400)
    expect(stack.provider.counts('jwks') - before).toBeLessThanOrEqual(1)
  })

  // refresh handling

  /** `count` browsers signed in with 1-second access tokens, once those have expired. */
  async function expiredSessions(count: number): Promise<Browser[]> {
    stack.provider.accessTokenTtl = 1
    const browsers = await Promise.all(Array.from({ length: count }, () => signedIn()))
    stack.provider.accessTokenTtl = 3600
    await clock.advance(2100)
    return browsers
  }

  it('refuses forged ID tokens at refresh without a 500 or another user', async () => {
    const forgeries = ['wrong_iss', 'alg_none', 'foreign_key', 'future_iat', 'no_sub'] as const
    const browsers = await expiredSessions(forgeries.length)
    for (const [i, forgery] of forgeries.entries()) {
      stack.provider.forgery = forgery
      const response = await (browsers[i] as Browser).request(`${stack.baseUrl}/api/token`)
      expect([401, 502], `${forgery}: ${response.body}`).toContain(response.status)
      expect(response.header('cache-control')).toBe('no-store')
      expect(response.setCookies.filter(setsSession)).toEqual([])
      const who = await (browsers[i] as Browser).request(`${stack.baseUrl}/api/me`)
      if (who.status === 200) expect(who.json().sub).toBe('alice')
    }
  })

  it('answers 502 to a broken refresh response, never a 500', async () => {
    const faults = ['bad_json', 'huge_body', 'redirect', 'html_500', 'error_json'] as const
    const browsers = await expiredSessions(faults.length)
    for (const [i, fault] of faults.entries()) {
      stack.provider.tokenFault = fault
      const response = await (browsers[i] as Browser).request(`${stack.baseUrl}/api/token`)
      expectRefused(response, 502)
    }
  })
})

/**
 * Attacks on the callback and on codeflow's cookies, on every adapter (issue 8): tampered and
 * duplicated callback parameters, transaction and session cookies tampered with, swapped for one
 * another or renamed, and resource exhaustion (huge cookies, many pending logins, huge query
 * strings and form bodies). Whatever is detectable before the token request never reaches it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import { expectAnonymous, expectRefused, MARKUP, setsSession } from './support/attacks.js'
import type { Browser, BrowserResponse, StoredCookie } from './support/browser.js'
import { authorize, startLogin } from './support/flow.js'
import { type ScriptedStack, startScriptedStack } from './support/stack.js'

const CROSS_SITE = { 'sec-fetch-site': 'cross-site' }

describe.each(harnesses)('attacks on the callback and cookies ($name)', (harness) => {
  let stack: ScriptedStack
  beforeAll(async () => {
    stack = await startScriptedStack(harness, { auth: { httpTimeout: 1500 } })
  })
  afterAll(() => stack?.close())

  /** The callback URL of a fresh login in `browser` (its transaction cookie is in the jar). */
  async function pendingCallback(browser: Browser): Promise<URL> {
    return authorize(browser, await startLogin(browser, stack.baseUrl))
  }

  function transactionCookie(browser: Browser): StoredCookie {
    const cookie = browser.cookies.find((c) => c.name.startsWith('codeflow_tx.'))
    if (!cookie) throw new Error('no transaction cookie')
    return cookie
  }

  /** Requests `url`, expects a refusal without any token request, and no session after. */
  async function refusedEarly(
    browser: Browser,
    url: URL | string,
    status: number | readonly number[] = 400,
  ): Promise<BrowserResponse> {
    const before = stack.provider.counts('token')
    const response = await browser.navigate(url, CROSS_SITE)
    expectRefused(response, status)
    expect(stack.provider.counts('token')).toBe(before)
    await expectAnonymous(browser, stack.baseUrl)
    return response
  }

  /** A signed-in browser. */
  async function signedIn(): Promise<Browser> {
    const browser = stack.browser()
    const response = await browser.navigate(await pendingCallback(browser), CROSS_SITE)
    expect(response.status).toBe(302)
    return browser
  }

  // callback tampering

  it('rejects a duplicated "state" parameter before any token request', async () => {
    const browser = stack.browser()
    const url = await pendingCallback(browser)
    url.searchParams.append('state', 'A'.repeat(43))
    await refusedEarly(browser, url)
  })

  it('rejects a duplicated "code" parameter before any token request', async () => {
    const browser = stack.browser()
    const url = await pendingCallback(browser)
    url.searchParams.append('code', 'another-code')
    await refusedEarly(browser, url)
  })

  it('rejects a duplicated "iss" parameter before any token request', async () => {
    const browser = stack.browser()
    const url = await pendingCallback(browser)
    url.searchParams.append('iss', 'https://evil.example')
    await refusedEarly(browser, url)
  })

  it.each([
    ['path traversal', '../../etc/passwd'],
    ['markup', MARKUP],
    ['an over-long state', 'A'.repeat(4000)],
    ['a NUL byte', `${'A'.repeat(20)}\u0000`],
    ['unicode', 'ßtäte-ünïcødé-ẞ-✓-😀-aaaaaaaaaa'],
    ['an empty state', ''],
  ])('rejects a state with %s before any token request, reflecting nothing', async (_, state) => {
    const browser = stack.browser()
    const url = await pendingCallback(browser)
    url.searchParams.set('state', state)
    const response = await refusedEarly(browser, url)
    if (state.length > 0) expect(response.body).not.toContain(state.slice(0, 30))
  })

  it('rejects both "code" and "error" at once, and escapes the description', async () => {
    const browser = stack.browser()
    const url = await pendingCallback(browser)
    url.searchParams.set('error', 'access_denied')
    url.searchParams.set('error_description', MARKUP)
    await refusedEarly(browser, url, [400, 403])
  })

  it('escapes an unknown provider error code in the page', async () => {
    const browser = stack.browser()
    const url = await pendingCallback(browser)
    url.searchParams.delete('code')
    url.searchParams.set('error', MARKUP)
    await refusedEarly(browser, url, [400, 403, 502])
  })

  it('refuses a callback POST (no form_post) without touching the transaction', async () => {
    const browser = stack.browser()
    const url = await pendingCallback(browser)
    const response = await browser.postForm(
      `${stack.baseUrl}/callback`,
      Object.fromEntries(url.searchParams),
      { origin: 'https://evil.example' },
    )
    expect(response.status).toBe(405)
    expect(response.setCookies.filter(setsSession)).toEqual([])
    // the genuine callback still completes
    expect((await browser.navigate(url, CROSS_SITE)).status).toBe(302)
  })

  it('keeps the current session when a forged callback fails', async () => {
    const browser = await signedIn()
    const url = await pendingCallback(browser)
    url.searchParams.set('state', 'B'.repeat(43))
    const response = await browser.navigate(url, CROSS_SITE)
    expectRefused(response, 400)
    expect((await browser.request(`${stack.baseUrl}/api/me`)).status).toBe(200)
  })

  it('rejects a callback with a state of another browser and no cookie of its own (login CSRF)', async () => {
    const attacker = stack.browser()
    const url = await pendingCallback(attacker)
    const victim = await signedIn()
    const response = await victim.navigate(url, CROSS_SITE)
    expectRefused(response, 400)
    // the victim is not switched to the attacker's account, nor logged out
    expect((await victim.request(`${stack.baseUrl}/api/me`)).json().sub).toBe('alice')
  })

  // transaction and session cookie tampering

  it('rejects a bit-flipped transaction cookie before any token request', async () => {
    const browser = stack.browser()
    const url = await pendingCallback(browser)
    const cookie = transactionCookie(browser)
    const middle = Math.floor(cookie.value.length / 2)
    const flipped = cookie.value[middle] === 'A' ? 'B' : 'A'
    cookie.value = cookie.value.slice(0, middle) + flipped + cookie.value.slice(middle + 1)
    await refusedEarly(browser, url)
  })

  it('rejects a transaction cookie renamed to another login state', async () => {
    const browser = stack.browser()
    const first = await pendingCallback(browser)
    const firstCookie = transactionCookie(browser)
    const firstValue = firstCookie.value
    // a second login; its cookie now carries the first login's sealed value
    const second = await pendingCallback(browser)
    const secondName = `codeflow_tx.${second.searchParams.get('state')}`
    const secondCookie = browser.cookies.find((c) => c.name === secondName) as StoredCookie
    secondCookie.value = firstValue
    browser.cookies.splice(browser.cookies.indexOf(firstCookie), 1)
    await refusedEarly(browser, second)
    expect(first.searchParams.get('state')).not.toBe(second.searchParams.get('state'))
  })

  it('rejects a session cookie planted as the transaction cookie', async () => {
    const victim = await signedIn()
    const session = victim.cookie(stack.baseUrl, 'codeflow')?.value as string
    const browser = stack.browser()
    const url = await pendingCallback(browser)
    transactionCookie(browser).value = session
    await refusedEarly(browser, url)
  })

  it('treats a transaction cookie planted as the session cookie as anonymous', async () => {
    const browser = stack.browser()
    await pendingCallback(browser)
    const value = transactionCookie(browser).value
    const response = await browser.request(`${stack.baseUrl}/api/me`, {
      headers: { cookie: `codeflow=${value}` },
      cookies: false,
    })
    expect(response.status).toBe(401)
  })

  it('treats a logout cookie planted as the session as anonymous', async () => {
    const browser = await signedIn()
    const logout = await browser.postForm(
      `${stack.baseUrl}/logout`,
      { returnTo: '/profile' },
      { origin: stack.baseUrl },
    )
    const sealed = browser.cookie(stack.baseUrl, 'codeflow_logout')?.value
    if (sealed) {
      const response = await browser.request(`${stack.baseUrl}/api/me`, {
        headers: { cookie: `codeflow=${sealed}` },
        cookies: false,
      })
      expect(response.status).toBe(401)
    }
    expect([302, 303]).toContain(logout.status)
  })

  it('never mixes the chunks of two sessions, nor accepts stray chunk names', async () => {
    const one = await signedIn()
    const value = one.cookie(stack.baseUrl, 'codeflow')?.value as string
    const half = Math.floor(value.length / 2)
    const cases = [
      `codeflow.0=${value.slice(0, half)}; codeflow.1=${value.slice(half)}`,
      `codeflow.0=${value}; codeflow.1=${value}`,
      `codeflow=garbage; codeflow=${value}`.replace(/^codeflow=garbage; /, 'codeflow=x; '),
      `codeflow.99=${value}`,
      `codeflow.__proto__=${value}; __proto__=x; constructor=y`,
    ]
    for (const cookie of cases) {
      const response = await one.request(`${stack.baseUrl}/api/me`, {
        headers: { cookie },
        cookies: false,
      })
      expect([200, 401], cookie.slice(0, 40)).toContain(response.status)
      expect(response.setCookies.filter(setsSession)).toEqual([])
    }
  })

  // resource limits

  it('keeps at most a few transaction cookies after 30 logins in one browser', async () => {
    const browser = stack.browser()
    for (let i = 0; i < 30; i++) await startLogin(browser, stack.baseUrl)
    const pending = browser.cookies.filter((c) => c.name.startsWith('codeflow_tx.'))
    expect(pending.length).toBeLessThanOrEqual(5)
    // the newest still completes
    const url = await pendingCallback(browser)
    expect((await browser.navigate(url, CROSS_SITE)).status).toBe(302)
  })

  it('answers a 12 KB cookie header of junk without a 500 or a session', async () => {
    const junk = Array.from({ length: 300 }, (_, i) => `c${i}=${'x'.repeat(30)}`).join('; ')
    const browser = stack.browser()
    const response = await browser.request(`${stack.baseUrl}/api/me`, {
      headers: { cookie: `${junk}; codeflow=${'A'.repeat(3000)}` },
      cookies: false,
    })
    expect([401, 431]).toContain(response.status)
    expect(response.setCookies.filter(setsSession)).toEqual([])
  })

  it('refuses a huge query string at login and callback without a 500', async () => {
    const browser = stack.browser()
    const login = await browser.navigate(
      `${stack.baseUrl}/login?returnTo=${'%2F'.repeat(3000)}&x=${'y'.repeat(3000)}`,
    )
    expect(login.status === 302 || (login.status >= 400 && login.status < 500)).toBe(true)
    if (login.status === 302) expect(login.location?.href).not.toContain('yyyy')
    const url = await pendingCallback(browser)
    url.searchParams.set('pad', 'z'.repeat(12_000))
    const response = await browser.navigate(url, CROSS_SITE)
    expect(response.status).toBeGreaterThanOrEqual(400)
    expect(response.status).toBeLessThan(500)
    expect(response.setCookies.filter(setsSession)).toEqual([])
  })

  it('refuses a 1 MB logout form body (400 or 413), keeping the session', async () => {
    const browser = await signedIn()
    const response = await browser.request(`${stack.baseUrl}/logout`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: stack.baseUrl,
      },
      body: `returnTo=${'a'.repeat(1024 * 1024)}`,
    })
    expect([400, 413]).toContain(response.status)
    expect(response.header('cache-control')).toBe('no-store')
    expect((await browser.request(`${stack.baseUrl}/api/me`)).status).toBe(200)
  })

  it('refuses a 1 MB back-channel logout body with 413', async () => {
    const browser = stack.browser()
    const response = await browser.request(`${stack.baseUrl}/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `logout_token=${'a'.repeat(1024 * 1024)}`,
      cookies: false,
    })
    expect([400, 413]).toContain(response.status)
    expect(response.header('cache-control')).toBe('no-store')
  })

  it('handles a form of 10000 tiny fields under the byte cap without a 500', async () => {
    const browser = await signedIn()
    const body = Array.from({ length: 10_000 }, (_, i) => `f${i % 10}=`).join('&')
    const response = await browser.request(`${stack.baseUrl}/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: stack.baseUrl },
      body,
    })
    expect([303, 413]).toContain(response.status)
  })
})

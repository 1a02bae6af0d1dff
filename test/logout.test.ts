import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import type { Browser, BrowserResponse } from './support/browser.js'
import { signIn } from './support/flow.js'
import { type Stack, startStack } from './support/stack.js'

describe.each(harnesses)('logout ($name)', (harness) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(harness)
  })
  afterAll(() => stack?.close())

  async function signedIn(): Promise<Browser> {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    return browser
  }

  async function status(browser: Browser): Promise<number> {
    return (await browser.request(`${stack.baseUrl}/api/me`)).status
  }

  function expectEndSession(response: BrowserResponse, browser: Browser, idToken: boolean): void {
    expect(response.header('cache-control')).toBe('no-store')
    const location = response.location as URL
    expect(location.origin).toBe(stack.provider.issuer)
    expect(location.pathname).toBe('/session/end')
    expect(location.searchParams.get('client_id')).toBe(stack.options.clientId)
    expect(location.searchParams.get('post_logout_redirect_uri')).toBe(`${stack.baseUrl}/`)
    if (idToken)
      expect(location.searchParams.get('id_token_hint')).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+$/)
    // the local session is cleared in the same response
    expect(response.setCookies.some((c) => /^codeflow=;.*Max-Age=0/.test(c))).toBe(true)
    expect(browser.cookie(stack.baseUrl, 'codeflow')).toBeUndefined()
  }

  it('logs out on a same-origin POST, redirecting to end_session with id_token_hint', async () => {
    const browser = await signedIn()
    const revocations = stack.provider.counts('revocation')
    const response = await browser.postForm(
      `${stack.baseUrl}/logout`,
      {},
      { origin: stack.baseUrl },
    )
    expect(response.status).toBe(303)
    expectEndSession(response, browser, true)
    // the refresh token was revoked at the provider (RFC 7009)
    expect(stack.provider.counts('revocation')).toBe(revocations + 1)
    expect(await status(browser)).toBe(401)
  })

  it('logs out on a same-origin GET (Sec-Fetch-Site same-origin or none)', async () => {
    for (const site of ['same-origin', 'none']) {
      const browser = await signedIn()
      const response = await browser.navigate(`${stack.baseUrl}/logout`, { 'sec-fetch-site': site })
      expect(response.status).toBe(302)
      expectEndSession(response, browser, true)
      expect(await status(browser)).toBe(401)
    }
  })

  it('completes the round trip through the provider back to the home page', async () => {
    const browser = await signedIn()
    let response = await browser.postForm(`${stack.baseUrl}/logout`, {}, { origin: stack.baseUrl })
    response = await browser.navigate(response.location as URL, { 'sec-fetch-site': 'cross-site' })
    // oidc-provider asks for confirmation with a form of its own
    expect(response.status).toBe(200)
    const action = /<form[^>]*action="([^"]+)"/.exec(response.body)?.[1] as string
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(response.body)?.[1] as string
    response = await browser.postForm(new URL(action, response.url), { xsrf, logout: 'yes' })
    while (response.location && response.location.origin !== stack.baseUrl) {
      response = await browser.navigate(response.location)
    }
    expect(response.location?.origin + (response.location?.pathname ?? '')).toBe(
      `${stack.baseUrl}/`,
    )
    const home = await browser.navigate(response.location as URL)
    expect(home.body).toContain('You are not signed in')
  })

  it('shows a confirmation page to a cross-site GET and changes nothing', async () => {
    const cases: Record<string, string>[] = [
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      {},
    ]
    for (const headers of cases) {
      const browser = await signedIn()
      const response = await browser.request(`${stack.baseUrl}/logout`, { headers })
      expect(response.status).toBe(200)
      expect(response.header('content-type')).toMatch(/^text\/html/)
      expect(response.header('cache-control')).toBe('no-store')
      expect(response.body).toMatch(/<form method="post" action="[^"]*\/logout">/)
      expect(response.setCookies).toEqual([])
      expect(await status(browser)).toBe(200)
    }
  })

  it('refuses a cross-site POST with 403 and keeps the session', async () => {
    const cases: Record<string, string>[] = [
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { origin: stack.baseUrl.replace('localhost', '127.0.0.1') },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      {},
    ]
    for (const headers of cases) {
      const browser = await signedIn()
      const response = await browser.postForm(`${stack.baseUrl}/logout`, {}, headers)
      expect(response.status, JSON.stringify(headers)).toBe(403)
      expect(response.setCookies).toEqual([])
      expect(await status(browser)).toBe(200)
    }
  })

  it('answers 413 to a logout form over 64 KiB, and keeps the session', async () => {
    const browser = await signedIn()
    const response = await browser.postForm(
      `${stack.baseUrl}/logout`,
      { returnTo: `/${'x'.repeat(70_000)}` },
      { origin: stack.baseUrl, accept: 'application/json' },
    )
    expect(response.status).toBe(413)
    expect(response.json()).toMatchObject({ error: 'body_too_large' })
    expect(response.setCookies).toEqual([])
    expect(await status(browser)).toBe(200)
  })

  it('sends an anonymous logout home without a provider round trip', async () => {
    const browser = stack.browser()
    const response = await browser.postForm(
      `${stack.baseUrl}/logout`,
      {},
      { origin: stack.baseUrl },
    )
    expect(response.status).toBe(303)
    expect(response.location?.href).toBe(`${stack.baseUrl}/`)
  })

  it('answers other methods with 405', async () => {
    const browser = await signedIn()
    const response = await browser.request(`${stack.baseUrl}/logout`, {
      method: 'PUT',
      headers: { origin: stack.baseUrl },
    })
    expect(response.status).toBe(405)
    expect(await status(browser)).toBe(200)
  })
})

describe.each(harnesses)('logout with the provider down ($name)', (harness) => {
  it('still clears the local session', async () => {
    const stack = await startStack(harness)
    try {
      const browser = stack.browser()
      await signIn(browser, stack.baseUrl)
      await stack.provider.close()
      const response = await browser.postForm(
        `${stack.baseUrl}/logout`,
        {},
        { origin: stack.baseUrl },
      )
      expect(response.status).toBe(303)
      expect(response.setCookies.some((c) => /^codeflow=;.*Max-Age=0/.test(c))).toBe(true)
      expect((await browser.request(`${stack.baseUrl}/api/me`)).status).toBe(401)
    } finally {
      await stack.close()
    }
  })
})

/**
 * Sign-in variants and authorization on every harness, against the dev provider: the login
 * parameters /login passes to the provider (and everything else it drops), silent login
 * (`prompt=none`) both ways, claim guards (/admin, /api/admin: 200, 403, 302, 401), and step-up
 * (/step-up: `max_age` with a fresh and a stale `auth_time`, `acr_values` with the right and a
 * wrong `acr`), as examples/README.md describes them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import type { Browser } from './support/browser.js'
import { testClock } from './support/clock.js'
import { authorize, signIn } from './support/flow.js'
import { CLIENT_ID, type Stack, startStack } from './support/stack.js'

/** Drops the app's cookies (localhost), keeping the provider's (127.0.0.1): the provider's login survives. */
function forgetApp(browser: Browser): void {
  for (let i = browser.cookies.length - 1; i >= 0; i--) {
    if (browser.cookies[i]?.host === 'localhost') browser.cookies.splice(i, 1)
  }
}

/** Each account's `groups`: admin is an administrator; odd has a number; text a string. */
function groups(accountId: string): Record<string, unknown> {
  if (accountId === 'admin') return { groups: ['users', 'admin'] }
  if (accountId === 'odd') return { groups: 5 }
  if (accountId === 'text') return { groups: 'users admin' }
  if (accountId === 'near') return { groups: 'superadmin' }
  return { groups: ['users'] }
}

describe.each(harnesses)('sign-in variants ($name)', (harness) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(harness, {
      provider: { claims: groups, claimNames: ['groups'] },
    })
  })
  afterAll(() => stack?.close())

  describe('login parameters', () => {
    it('passes prompt, login_hint, max_age, acr_values and ui_locales to the provider, and nothing else', async () => {
      const browser = stack.browser()
      const query = new URLSearchParams({
        prompt: 'login',
        login_hint: 'alice@example.test',
        max_age: '600',
        acr_values: 'urn:a urn:b',
        ui_locales: 'de en-GB',
        foo: 'bar',
        client_id: 'evil',
        redirect_uri: 'https://evil.example/callback',
        scope: 'openid admin',
        response_mode: 'form_post',
        returnTo: '/profile?prompt=none&login_hint=mallory',
      })
      const start = await browser.navigate(`${stack.baseUrl}/login?${query}`)
      expect(start.status).toBe(302)
      const sent = start.location?.searchParams
      expect(sent?.get('prompt')).toBe('login')
      expect(sent?.get('login_hint')).toBe('alice@example.test')
      expect(sent?.get('max_age')).toBe('600')
      expect(sent?.get('acr_values')).toBe('urn:a urn:b')
      expect(sent?.get('ui_locales')).toBe('de en-GB')
      expect(sent?.has('foo')).toBe(false)
      expect(sent?.has('response_mode')).toBe(false)
      expect(sent?.getAll('client_id')).toEqual([CLIENT_ID])
      expect(sent?.getAll('redirect_uri')).toEqual([`${stack.baseUrl}/callback`])
      expect(sent?.getAll('scope')).toEqual(['openid profile email offline_access'])
      expect(sent?.getAll('prompt')).toHaveLength(1)
      expect(sent?.getAll('login_hint')).toHaveLength(1)
    })

    it.each([
      ['an unknown prompt', 'prompt=bogus'],
      ['prompt=none with another', 'prompt=none%20login'],
      ['a repeated prompt', 'prompt=login&prompt=consent'],
      ['a negative max_age', 'max_age=-1'],
      ['a max_age that is not a number', 'max_age=soon'],
      ['a login_hint with a line break', 'login_hint=a%0D%0ALocation:%20x'],
      ['an acr value with a quote', 'acr_values=%22x'],
      ['a ui_locales that is not a language tag', 'ui_locales=%3Cscript%3E'],
    ])(
      'answers %s with 400 JSON, no transaction and no request to the provider',
      async (_name, query) => {
        const browser = stack.browser()
        const response = await browser.request(`${stack.baseUrl}/login?${query}`, {
          headers: { accept: 'application/json' },
        })
        expect(response.status).toBe(400)
        expect(response.json()).toMatchObject({ error: 'invalid_login_request' })
        expect(response.setCookies.some((c) => c.startsWith('codeflow_tx.'))).toBe(false)
      },
    )
  })

  describe('third-party initiated login (OIDC Core 4)', () => {
    it('starts a login for the configured issuer, landing on target_link_uri, with login_hint', async () => {
      const browser = stack.browser()
      const query = new URLSearchParams({
        iss: stack.provider.issuer,
        target_link_uri: `${stack.baseUrl}/profile`,
        login_hint: 'alice',
      })
      const start = await browser.navigate(`${stack.baseUrl}/login?${query}`, {
        'sec-fetch-site': 'cross-site',
      })
      expect(start.status).toBe(302)
      expect(start.location?.searchParams.get('login_hint')).toBe('alice')
      const callback = await authorize(browser, start)
      const back = await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
      expect(back.location?.href).toBe(`${stack.baseUrl}/profile`)
    })

    it.each([
      ['another issuer', { iss: 'https://other.example', target_link_uri: '/profile' }],
      ['a target on another origin', { iss: 'ISSUER', target_link_uri: 'https://evil.example/' }],
      ['a repeated iss', { iss: 'ISSUER', repeat: 'yes' }],
    ])('answers %s with 400 and starts nothing', async (_name, parameters) => {
      const { repeat, ...rest } = parameters as Record<string, string>
      const query = new URLSearchParams(
        Object.fromEntries(
          Object.entries(rest).map(([k, v]) => [k, v === 'ISSUER' ? stack.provider.issuer : v]),
        ),
      )
      if (repeat) query.append('iss', stack.provider.issuer)
      const response = await stack.browser().request(`${stack.baseUrl}/login?${query}`, {
        headers: { accept: 'application/json' },
      })
      expect(response.status).toBe(400)
      expect(response.json()).toMatchObject({ error: 'invalid_login_request' })
      expect(response.setCookies.some((c) => c.startsWith('codeflow_tx.'))).toBe(false)
    })
  })

  describe('silent login (prompt=none)', () => {
    it('lands anonymous on the returnTo when the provider needs the user (login_required)', async () => {
      const browser = stack.browser()
      const start = await browser.navigate(`${stack.baseUrl}/login?prompt=none&returnTo=%2Fprofile`)
      expect(start.status).toBe(302)
      expect(start.location?.searchParams.get('prompt')).toBe('none')
      const atProvider = await browser.navigate(start.location as URL, {
        'sec-fetch-site': 'cross-site',
      })
      expect(atProvider.location?.pathname).toBe('/callback')
      expect(atProvider.location?.searchParams.get('error')).toBe('login_required')
      const back = await browser.navigate(atProvider.location as URL, {
        'sec-fetch-site': 'cross-site',
      })
      expect(back.status).toBe(302)
      expect(back.location?.href).toBe(`${stack.baseUrl}/profile`)
      expect(back.setCookies.some((c) => /^codeflow=[^;]/.test(c))).toBe(false)
      expect((await browser.request(`${stack.baseUrl}/api/me`)).status).toBe(401)
    })

    it('signs in without a page when the provider has the user', async () => {
      const browser = stack.browser()
      await signIn(browser, stack.baseUrl)
      forgetApp(browser)
      expect((await browser.request(`${stack.baseUrl}/api/me`)).status).toBe(401)
      const start = await browser.navigate(`${stack.baseUrl}/login?prompt=none&returnTo=%2Fprofile`)
      const atProvider = await browser.navigate(start.location as URL, {
        'sec-fetch-site': 'cross-site',
      })
      // straight back with a code: no login or consent page
      expect(atProvider.status).toBe(303)
      const callback = atProvider.location as URL
      expect(callback.searchParams.has('code')).toBe(true)
      const back = await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
      expect(back.location?.href).toBe(`${stack.baseUrl}/profile`)
      expect((await browser.request(`${stack.baseUrl}/api/me`)).json().sub).toBe('alice')
    })
  })

  describe('claim guards', () => {
    it('sends an anonymous visitor to log in from /admin, and answers /api/admin 401 JSON', async () => {
      const browser = stack.browser()
      const page = await browser.navigate(`${stack.baseUrl}/admin`)
      expect(page.status).toBe(302)
      expect(page.location?.href).toBe(`${stack.baseUrl}/login?returnTo=%2Fadmin`)
      const api = await browser.request(`${stack.baseUrl}/api/admin`)
      expect(api.status).toBe(401)
      expect(api.json()).toMatchObject({ error: 'unauthenticated' })
    })

    it('answers a signed-in user outside the group 403 (a page, and JSON), never a login', async () => {
      const browser = stack.browser()
      await signIn(browser, stack.baseUrl, { login: 'alice' })
      const page = await browser.navigate(`${stack.baseUrl}/admin`)
      expect(page.status).toBe(403)
      expect(page.header('content-type')).toMatch(/^text\/html/)
      expect(page.body).toContain('not allowed here')
      const api = await browser.request(`${stack.baseUrl}/api/admin`)
      expect(api.status).toBe(403)
      expect(api.json()).toMatchObject({ error: 'insufficient_claims' })
    })

    it('lets an administrator in: 200, no-store', async () => {
      const browser = stack.browser()
      await signIn(browser, stack.baseUrl, { login: 'admin' })
      const page = await browser.navigate(`${stack.baseUrl}/admin`)
      expect(page.status).toBe(200)
      expect(page.header('cache-control')).toBe('no-store')
      expect(page.body).toContain('id="admin"')
      const api = await browser.request(`${stack.baseUrl}/api/admin`)
      expect(api.status).toBe(200)
      expect(api.json()).toEqual({ sub: 'admin' })
    })

    it.each([
      ['a number', 'odd', 403],
      ['a string with the group among its words', 'text', 200],
      ['a string that only contains the group', 'near', 403],
    ])('judges groups that is %s (%s): %i', async (_name, login, status) => {
      const browser = stack.browser()
      await signIn(browser, stack.baseUrl, { login })
      expect((await browser.request(`${stack.baseUrl}/api/admin`)).status).toBe(status)
    })
  })

  describe('step-up (max_age)', () => {
    it('lets a fresh sign-in see /step-up', async () => {
      const browser = stack.browser()
      await signIn(browser, stack.baseUrl)
      const page = await browser.navigate(`${stack.baseUrl}/step-up`)
      expect(page.status).toBe(200)
      expect(page.header('cache-control')).toBe('no-store')
      expect(page.body).toContain('id="step-up"')
    })

    it('sends a session whose auth_time is too old to sign in again with max_age, then lets it in', async () => {
      const browser = stack.browser()
      await signIn(browser, stack.baseUrl)
      // the provider's login is now ten minutes old: a new app login carries that auth_time
      stack.provider.ageSessions(600)
      forgetApp(browser)
      await signIn(browser, stack.baseUrl)
      const stale = await browser.navigate(`${stack.baseUrl}/step-up`)
      expect(stale.status).toBe(302)
      expect(stale.location?.origin).toBe(stack.provider.issuer)
      expect(stale.location?.searchParams.get('max_age')).toBe('300')
      // the provider asks for the password again (its session is older than max_age)
      const atProvider = await browser.navigate(stale.location as URL, {
        'sec-fetch-site': 'cross-site',
      })
      const login = await browser.navigate(atProvider.location as URL)
      expect(login.body).toMatch(/name="login"/)
      const callback = await authorize(browser, login)
      const back = await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
      expect(back.status).toBe(302)
      expect(back.location?.href).toBe(`${stack.baseUrl}/step-up`)
      expect((await browser.navigate(`${stack.baseUrl}/step-up`)).status).toBe(200)
    })
  })
})

describe.each(harnesses)('step-up refused ($name)', (harness) => {
  it('refuses the login when the new ID token is no more recent than before: 401, the old session kept', async () => {
    const clock = testClock()
    const stack = await startStack(harness, { clock })
    try {
      const browser = stack.browser()
      await signIn(browser, stack.baseUrl)
      // by the app's clock the sign-in is ten minutes old; by the provider's it is fresh, so
      // the provider answers max_age=300 with the same auth_time
      await clock.advance(600_000)
      const stale = await browser.navigate(`${stack.baseUrl}/step-up`)
      expect(stale.status).toBe(302)
      expect(stale.location?.searchParams.get('max_age')).toBe('300')
      const callback = await authorize(browser, stale)
      const answer = await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
      expect(answer.status).toBe(401)
      expect(answer.body).toContain('not recent enough')
      expect((await browser.request(`${stack.baseUrl}/api/me`)).json().sub).toBe('alice')
    } finally {
      await stack.close()
    }
  })
})

describe.each(harnesses)('step-up with acr ($name)', (harness) => {
  const MFA = 'urn:codeflow:mfa'
  let stack: Stack
  let wrong: Stack
  beforeAll(async () => {
    stack = await startStack(harness, {
      provider: { acrValues: [MFA, 'urn:codeflow:pwd'] },
      example: { stepUpAcr: MFA },
    })
    wrong = await startStack(harness, {
      // a provider that authenticates with another acr than the one asked
      provider: { acrValues: [MFA, 'urn:codeflow:pwd'], acr: () => 'urn:codeflow:pwd' },
      example: { stepUpAcr: MFA },
    })
  })
  afterAll(async () => {
    await stack?.close()
    await wrong?.close()
  })

  it('asks for the acr with acr_values, and lets the new sign-in in', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const first = await browser.navigate(`${stack.baseUrl}/step-up`)
    expect(first.status).toBe(302)
    expect(first.location?.searchParams.get('acr_values')).toBe(MFA)
    const callback = await authorize(browser, first)
    const back = await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
    expect(back.location?.href).toBe(`${stack.baseUrl}/step-up`)
    const page = await browser.navigate(`${stack.baseUrl}/step-up`)
    expect(page.status).toBe(200)
    expect(page.body).toContain(`<code id="acr">${MFA}</code>`)
  })

  it('enforces the acr_values of /login’s query too (what a step-up’s login_url carries)', async () => {
    const browser = wrong.browser()
    const start = await browser.navigate(
      `${wrong.baseUrl}/login?acr_values=${encodeURIComponent(MFA)}&returnTo=%2Fstep-up`,
    )
    expect(start.location?.searchParams.get('acr_values')).toBe(MFA)
    const callback = await authorize(browser, start)
    const answer = await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
    expect(answer.status).toBe(401)
  })

  it('refuses a sign-in with another acr: 401, and no loop', async () => {
    const browser = wrong.browser()
    await signIn(browser, wrong.baseUrl)
    const first = await browser.navigate(`${wrong.baseUrl}/step-up`)
    expect(first.status).toBe(302)
    const callback = await authorize(browser, first)
    const answer = await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
    expect(answer.status).toBe(401)
    expect(answer.body).toContain('did not use the authentication this page needs')
  })
})

describe.each(harnesses)('attemptSilentLogin ($name)', (harness) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(harness, { auth: { attemptSilentLogin: true } })
  })
  afterAll(() => stack?.close())

  it('tries prompt=none once at the first page, then lets the visitor be anonymous; never for an API call', async () => {
    const browser = stack.browser()
    // an API call is answered, not redirected
    const api = await browser.request(`${stack.baseUrl}/api/me`)
    expect(api.status).toBe(401)
    const first = await browser.navigate(`${stack.baseUrl}/`)
    expect(first.status).toBe(302)
    expect(first.location?.origin).toBe(stack.provider.issuer)
    expect(first.location?.searchParams.get('prompt')).toBe('none')
    const atProvider = await browser.navigate(first.location as URL, {
      'sec-fetch-site': 'cross-site',
    })
    expect(atProvider.location?.searchParams.get('error')).toBe('login_required')
    const back = await browser.navigate(atProvider.location as URL, {
      'sec-fetch-site': 'cross-site',
    })
    expect(back.location?.href).toBe(`${stack.baseUrl}/`)
    // the attempt was made: the page now answers, anonymous, and keeps doing so
    for (let i = 0; i < 2; i++) {
      const page = await browser.navigate(`${stack.baseUrl}/`)
      expect(page.status).toBe(200)
      expect(page.body).toContain('You are not signed in')
    }
  })

  it('brings a user signed in at the provider back signed in, without a page', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    // a new browser session at the app (its cookies gone), the provider's login kept
    forgetApp(browser)
    const first = await browser.navigate(`${stack.baseUrl}/`)
    expect(first.location?.searchParams.get('prompt')).toBe('none')
    const atProvider = await browser.navigate(first.location as URL, {
      'sec-fetch-site': 'cross-site',
    })
    expect(atProvider.location?.searchParams.has('code')).toBe(true)
    await browser.navigate(atProvider.location as URL, { 'sec-fetch-site': 'cross-site' })
    expect((await browser.request(`${stack.baseUrl}/api/me`)).json().sub).toBe('alice')
    expect((await browser.navigate(`${stack.baseUrl}/`)).status).toBe(200)
  })

  it('does not try for a prefetch or a frame, and tries at the next real page', async () => {
    const browser = stack.browser()
    const prefetch = await browser.navigate(`${stack.baseUrl}/`, { 'sec-purpose': 'prefetch' })
    expect(prefetch.status).toBe(200)
    const frame = await browser.navigate(`${stack.baseUrl}/`, { 'sec-fetch-dest': 'iframe' })
    expect(frame.status).toBe(200)
    const page = await browser.navigate(`${stack.baseUrl}/`, { 'sec-fetch-dest': 'document' })
    expect(page.status).toBe(302)
    expect(page.location?.searchParams.get('prompt')).toBe('none')
  })

  it('does not sign a user who signed out back in silently', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    // the app's logout; the provider's own logout page is not visited: its login stays
    const out = await browser.postForm(`${stack.baseUrl}/logout`, {}, { origin: stack.baseUrl })
    expect(out.status).toBe(303)
    const page = await browser.navigate(`${stack.baseUrl}/`)
    expect(page.status).toBe(200)
    expect(page.body).toContain('You are not signed in')
  })
})

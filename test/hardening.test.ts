/**
 * The classes of the peers' advisories since 2024 (nextjs-auth0, better-auth, Auth.js, Next.js,
 * Hono), one scenario each, on every adapter (issue 15): request input smuggled into the
 * authorization request, one artefact accepted as another, a state nobody issued, route matching
 * fooled by spelling, a protected page reached by another kind of request, a session-dependent
 * response cached for everyone, claims read as what they are not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import { setsSession } from './support/attacks.js'
import type { Browser } from './support/browser.js'
import { authorize, signIn, startLogin } from './support/flow.js'
import { type ScriptedStack, startScriptedStack } from './support/stack.js'

const CROSS_SITE = { 'sec-fetch-site': 'cross-site' }

describe.each(harnesses)('hardening ($name)', (harness) => {
  let stack: ScriptedStack
  beforeAll(async () => {
    stack = await startScriptedStack(harness)
  })
  afterAll(() => stack?.close())

  const cookieOf = (browser: Browser, name: RegExp) =>
    browser.cookies.find((c) => name.test(c.name))

  it('sends exactly the configured parameters and the allowed login parameters to the provider, whatever the login request carries (nextjs-auth0 CVE-2025-67716)', async () => {
    const browser = stack.browser()
    const smuggled = new URLSearchParams({
      returnTo:
        '/reports?x=1&scope=openid%20admin&prompt=none&redirect_uri=https://evil.example/cb',
      scope: 'openid admin',
      // a login parameter /login passes (OIDC Core 3.1.2.1), and one inside returnTo, which not
      prompt: 'login',
      redirect_uri: 'https://evil.example/cb',
      response_type: 'token',
      client_id: 'another-client',
      request_uri: 'https://evil.example/request',
      login_hint: 'victim@example.com',
      extra: 'x',
    })
    const start = await browser.navigate(`${stack.baseUrl}/login?${smuggled}`)
    expect(start.status).toBe(302)
    const params = (start.location as URL).searchParams
    expect([...params.keys()].sort()).toEqual([
      'client_id',
      'code_challenge',
      'code_challenge_method',
      'login_hint',
      'nonce',
      'prompt',
      'redirect_uri',
      'response_type',
      'scope',
      'state',
    ])
    expect(params.get('prompt')).toBe('login')
    expect(params.get('login_hint')).toBe('victim@example.com')
    expect(params.get('scope')).toBe('openid profile offline_access')
    expect(params.get('redirect_uri')).toBe(`${stack.baseUrl}/callback`)
    expect(params.get('client_id')).toBe(stack.provider.clientId)
    expect(params.get('response_type')).toBe('code')
    // the returnTo is the transaction's, back on our origin after the login
    const callback = await authorize(browser, start)
    const landed = await browser.navigate(callback, CROSS_SITE)
    expect(landed.status).toBe(302)
    expect(landed.location?.origin).toBe(stack.baseUrl)
    expect(landed.location?.pathname).toBe('/reports')
  })

  it('accepts no artefact as another: a transaction, session or logout cookie under another name (better-auth CVE-2026-110864)', async () => {
    const browser = stack.browser()
    const start = await startLogin(browser, stack.baseUrl)
    const transaction = cookieOf(browser, /^codeflow_tx\./)
    expect(transaction).toBeDefined()
    // a transaction as the session
    const asSession = await browser.request(`${stack.baseUrl}/api/me`, {
      cookies: false,
      headers: { cookie: `codeflow=${transaction?.value}` },
    })
    expect(asSession.status).toBe(401)
    // a session as the transaction of the pending login
    const signedIn = stack.browser()
    await signIn(signedIn, stack.baseUrl)
    const session = cookieOf(signedIn, /^codeflow$/)
    expect(session).toBeDefined()
    const callback = await authorize(browser, start)
    const swapped = await browser.request(callback.href, {
      cookies: false,
      headers: { cookie: `${transaction?.name}=${session?.value}`, ...CROSS_SITE },
    })
    expect(swapped.status).toBe(400)
    expect(swapped.setCookies.filter(setsSession)).toEqual([])
  })

  it('matches no missing state to a missing transaction, and no state the app did not issue', async () => {
    const anonymous = stack.browser()
    const none = await anonymous.navigate(`${stack.baseUrl}/callback?code=abc`, CROSS_SITE)
    expect(none.status).toBe(400)
    expect(none.setCookies.filter(setsSession)).toEqual([])
    const browser = stack.browser()
    const callback = await authorize(browser, await startLogin(browser, stack.baseUrl))
    callback.searchParams.set('state', 'a-state-nobody-issued-0123456789')
    const forged = await browser.navigate(callback, CROSS_SITE)
    expect(forged.status).toBe(400)
    expect(forged.setCookies.filter(setsSession)).toEqual([])
    callback.searchParams.delete('state')
    const stateless = await browser.navigate(callback, CROSS_SITE)
    expect(stateless.status).toBe(400)
    expect(stateless.setCookies.filter(setsSession)).toEqual([])
  })

  it.each(['//callback', '/callback/', '/CALLBACK', '/%2Fcallback', '/%63allback', '/callback;x'])(
    'does not treat %s as the callback (better-auth CVE-2025-71399)',
    async (path) => {
      const browser = stack.browser()
      const real = await authorize(browser, await startLogin(browser, stack.baseUrl))
      const pending = cookieOf(browser, /^codeflow_tx\./)
      const response = await browser.navigate(`${stack.baseUrl}${path}${real.search}`, CROSS_SITE)
      expect(response.setCookies.filter(setsSession)).toEqual([])
      // the transaction was not consumed: the genuine callback still completes
      expect(cookieOf(browser, /^codeflow_tx\./)?.value).toBe(pending?.value)
      expect((await browser.navigate(real, CROSS_SITE)).status).toBe(302)
    },
  )

  it.each([
    ['an RSC request', '/profile', { rsc: '1' }],
    ['an RSC query', '/profile?_rsc=1a2b3', { rsc: '1' }],
    ['a prefetch', '/profile', { 'next-router-prefetch': '1', rsc: '1' }],
    [
      'a middleware subrequest (Next CVE-2025-29927)',
      '/profile',
      { 'x-middleware-subrequest': 'proxy:proxy:proxy:proxy:proxy' },
    ],
  ])('keeps the profile from an anonymous %s', async (_label, path, headers) => {
    const response = await stack.browser().request(`${stack.baseUrl}${path}`, { headers })
    expect(response.status).toBe(302)
    expect(response.location?.pathname).toBe('/login')
    expect(response.body).not.toContain('id="claims"')
  })

  it.each([
    '/profile.rsc',
    '/profile.segments/_tree.segment.rsc',
    '/profile/.segments/_index.segment.rsc',
  ])('shows no profile data at %s to an anonymous request (Next CVE-2026-44575)', async (path) => {
    const response = await stack.browser().request(`${stack.baseUrl}${path}`, {
      headers: { rsc: '1' },
    })
    expect(response.body).not.toContain('id="claims"')
    expect(response.body).not.toContain('Scripted alice')
  })

  it('sends a browser on another name for the app to baseUrl, in absolute redirects', async () => {
    const other = stack.baseUrl.replace('localhost', '127.0.0.1')
    const page = await stack.browser().navigate(`${other}/profile`)
    expect(page.status).toBe(302)
    expect(page.location?.href).toBe(`${stack.baseUrl}/login?returnTo=%2Fprofile`)
    const logout = await stack.browser().request(`${other}/logout?returnTo=%2Fbye`, {
      headers: { 'sec-fetch-site': 'same-origin' },
    })
    expect(logout.status).toBe(302)
    expect(logout.location?.href).toBe(`${stack.baseUrl}/bye`)
  })

  it('redirects an anonymous page request to login whatever its Accept header', async () => {
    for (const accept of [undefined, '*/*', 'application/json']) {
      const response = await stack.browser().request(`${stack.baseUrl}/profile`, {
        headers: accept === undefined ? {} : { accept },
      })
      expect(response.status, String(accept)).toBe(302)
      expect(response.location?.pathname).toBe('/login')
    }
  })

  it('marks every response that depends on the session, and is not no-store, with Vary: Cookie', async () => {
    const browser = stack.browser()
    for (const signedIn of [false, true]) {
      if (signedIn) await signIn(browser, stack.baseUrl)
      const home = await browser.navigate(`${stack.baseUrl}/`)
      expect(home.status).toBe(200)
      const noStore = /no-store/.test(home.header('cache-control') ?? '')
      const vary = (home.header('vary') ?? '').toLowerCase()
      expect(
        noStore || /\bcookie\b/.test(vary),
        `cache-control ${home.header('cache-control')}, vary ${vary}`,
      ).toBe(true)
    }
  })

  it('passes claims through as the provider typed them; the user is (iss, sub), never email', async () => {
    stack.provider.extraClaims = {
      email: 'shared@example.com',
      email_verified: 'false',
      admin: 'true',
    }
    try {
      const first = stack.browser()
      stack.provider.subject = 'first-user'
      await signIn(first, stack.baseUrl)
      const second = stack.browser()
      stack.provider.subject = 'second-user'
      await signIn(second, stack.baseUrl)
      const one = (await first.request(`${stack.baseUrl}/api/me`)).json()
      const two = (await second.request(`${stack.baseUrl}/api/me`)).json()
      expect(one).toMatchObject({ sub: 'first-user', email_verified: 'false', admin: 'true' })
      expect(two.sub).toBe('second-user')
      expect(one.email).toBe(two.email)
    } finally {
      stack.provider.extraClaims = {}
      stack.provider.subject = 'alice'
    }
  })
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import { signIn, startLogin } from './support/flow.js'
import { type Stack, startStack } from './support/stack.js'

describe.each(harnesses)('login ($name)', (harness) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(harness)
  })
  afterAll(() => stack?.close())

  it('redirects /login to the authorization endpoint with code, S256 PKCE, state and nonce', async () => {
    const browser = stack.browser()
    const response = await startLogin(browser, stack.baseUrl, '/profile')
    expect(response.status).toBe(302)
    expect(response.header('cache-control')).toBe('no-store')
    const location = response.location as URL
    expect(location.origin).toBe(stack.provider.issuer)
    const params = location.searchParams
    expect(params.get('response_type')).toBe('code')
    expect(params.get('client_id')).toBe(stack.options.clientId)
    expect(params.get('redirect_uri')).toBe(`${stack.baseUrl}/callback`)
    expect(params.get('code_challenge_method')).toBe('S256')
    expect(params.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(params.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(params.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(params.get('scope')?.split(' ')).toContain('openid')
    // one transaction cookie, keyed by the state
    const transaction = browser.cookies.filter((c) => c.name.startsWith('codeflow_tx.'))
    expect(transaction).toHaveLength(1)
    expect(transaction[0]?.name).toBe(`codeflow_tx.${params.get('state')}`)
    // short-lived, HttpOnly, Lax (the callback is a top-level GET from the provider)
    const header = response.setCookies.find((c) => c.startsWith('codeflow_tx.')) as string
    expect(header).toMatch(/; Max-Age=600/)
    expect(header).toMatch(/; HttpOnly/)
    expect(header).toMatch(/; SameSite=Lax/)
  })

  it('builds redirect_uri from configuration, never from Host or X-Forwarded-*', async () => {
    const browser = stack.browser()
    const response = await browser.navigate(`${stack.baseUrl}/login`, {
      host: 'evil.example:8443',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'https',
      forwarded: 'host=evil.example;proto=https',
    })
    expect(response.status).toBe(302)
    expect(response.location?.searchParams.get('redirect_uri')).toBe(`${stack.baseUrl}/callback`)
  })

  it('keeps at most 5 logins pending per browser, dropping the oldest', async () => {
    const browser = stack.browser()
    const starts = []
    for (let i = 0; i < 8; i++)
      starts.push(await startLogin(browser, stack.baseUrl, `/profile?n=${i}`))
    const pending = browser.cookies.filter((c) => c.name.startsWith('codeflow_tx.'))
    expect(pending).toHaveLength(5)
    const { authorize } = await import('./support/flow.js')
    const oldest = await authorize(browser, starts[0] as (typeof starts)[number], 'gus')
    expect((await browser.navigate(oldest, { 'sec-fetch-site': 'cross-site' })).status).toBe(400)
    const newest = await authorize(browser, starts[7] as (typeof starts)[number], 'gus')
    const done = await browser.navigate(newest, { 'sec-fetch-site': 'cross-site' })
    expect(done.status).toBe(302)
    expect(done.location?.href).toBe(`${stack.baseUrl}/profile?n=7`)
  })

  it('uses fresh PKCE, state and nonce for every login', async () => {
    const browser = stack.browser()
    const a = (await startLogin(browser, stack.baseUrl)).location as URL
    const b = (await startLogin(browser, stack.baseUrl)).location as URL
    for (const name of ['state', 'nonce', 'code_challenge']) {
      expect(a.searchParams.get(name)).not.toBe(b.searchParams.get(name))
    }
  })

  it('signs in, lands on returnTo, and shows the profile', async () => {
    const browser = stack.browser()
    const callback = await signIn(browser, stack.baseUrl, { login: 'alice', returnTo: '/profile' })
    expect(callback.status).toBe(302)
    expect(callback.location?.href).toBe(`${stack.baseUrl}/profile`)
    expect(callback.header('cache-control')).toBe('no-store')
    const profile = await browser.navigate(`${stack.baseUrl}/profile`)
    expect(profile.status).toBe(200)
    expect(profile.body).toContain('<code id="sub">alice</code>')
    // the transaction cookie is gone once used
    expect(browser.cookies.some((c) => c.name.startsWith('codeflow_tx.'))).toBe(false)
  })

  it('defaults returnTo to the home page', async () => {
    const browser = stack.browser()
    const callback = await signIn(browser, stack.baseUrl)
    expect(callback.location?.href).toBe(`${stack.baseUrl}/`)
    const home = await browser.navigate(`${stack.baseUrl}/`)
    expect(home.body).toContain('Signed in as')
  })

  it('keeps a returnTo with a query and fragment', async () => {
    const browser = stack.browser()
    const callback = await signIn(browser, stack.baseUrl, { returnTo: '/profile?tab=a%20b#top' })
    expect(callback.location?.href).toBe(`${stack.baseUrl}/profile?tab=a%20b#top`)
  })

  it('answers /api/me with 401 JSON and WWW-Authenticate when anonymous, 200 with claims after login', async () => {
    const browser = stack.browser()
    const anonymous = await browser.request(`${stack.baseUrl}/api/me`)
    expect(anonymous.status).toBe(401)
    expect(anonymous.header('content-type')).toMatch(/^application\/json/)
    expect(anonymous.header('www-authenticate')).toBeTruthy()
    expect(anonymous.header('cache-control')).toBe('no-store')
    expect(anonymous.json()).toMatchObject({ error: 'unauthenticated' })
    expect(anonymous.setCookies).toEqual([])

    await signIn(browser, stack.baseUrl, { login: 'bob' })
    const me = await browser.request(`${stack.baseUrl}/api/me`)
    expect(me.status).toBe(200)
    expect(me.header('cache-control')).toBe('no-store')
    const claims = me.json()
    expect(claims.sub).toBe('bob')
    expect(claims.email).toBe('bob@example.test')
    // protocol claims are not user claims
    expect(claims.nonce).toBeUndefined()
    expect(claims.aud).toBeUndefined()
  })

  it('redirects an anonymous /profile to login with returnTo', async () => {
    const browser = stack.browser()
    const response = await browser.navigate(`${stack.baseUrl}/profile`)
    expect(response.status).toBe(302)
    expect(response.location?.pathname).toBe('/login')
    expect(response.location?.search).toBe('?returnTo=%2Fprofile')
    expect(response.setCookies).toEqual([])
  })

  it('answers /api/token with the expiry of a valid access token, never the token', async () => {
    const browser = stack.browser()
    expect((await browser.request(`${stack.baseUrl}/api/token`)).status).toBe(401)
    await signIn(browser, stack.baseUrl)
    const response = await browser.request(`${stack.baseUrl}/api/token`)
    expect(response.status).toBe(200)
    expect(response.header('cache-control')).toBe('no-store')
    const body = response.json<{ expiresAt: number }>()
    expect(Object.keys(body)).toEqual(['expiresAt'])
    expect(body.expiresAt).toBeGreaterThan(Date.now() / 1000)
  })

  it('sets session cookies HttpOnly, SameSite=Lax, Path=/ and never over 4096 bytes', async () => {
    const browser = stack.browser()
    const callback = await signIn(browser, stack.baseUrl)
    const session = callback.setCookies.filter((c) => c.startsWith('codeflow='))
    expect(session).toHaveLength(1)
    for (const header of callback.setCookies) {
      expect(header.length).toBeLessThanOrEqual(4096)
      expect(header).toMatch(/; HttpOnly/)
      expect(header).toMatch(/; SameSite=Lax/)
      expect(header).toMatch(/; Path=\//)
      // http base URL: no Secure, no __Host- prefix
      expect(header).not.toMatch(/; Secure/)
    }
  })

  it('starts a new session at every login (no fixation)', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl, { login: 'alice' })
    const first = browser.cookie(stack.baseUrl, 'codeflow')?.value
    // forget the provider's session (not ours), so that the next login there is carol's
    const providerHost = new URL(stack.provider.issuer).hostname
    browser.cookies.splice(
      0,
      browser.cookies.length,
      ...browser.cookies.filter((c) => c.host !== providerHost),
    )
    await signIn(browser, stack.baseUrl, { login: 'carol' })
    const second = browser.cookie(stack.baseUrl, 'codeflow')?.value
    expect(second).toBeTruthy()
    expect(second).not.toBe(first)
    const me = await browser.request(`${stack.baseUrl}/api/me`)
    expect(me.json().sub).toBe('carol')
  })

  it('completes two parallel logins in one browser', async () => {
    const browser = stack.browser()
    const first = await startLogin(browser, stack.baseUrl, '/profile?first')
    const second = await startLogin(browser, stack.baseUrl, '/profile?second')
    const { authorize } = await import('./support/flow.js')
    const secondCallback = await authorize(browser, second, 'dave')
    const firstCallback = await authorize(browser, first, 'dave')
    const a = await browser.navigate(firstCallback, { 'sec-fetch-site': 'cross-site' })
    const b = await browser.navigate(secondCallback, { 'sec-fetch-site': 'cross-site' })
    expect(a.status).toBe(302)
    expect(a.location?.href).toBe(`${stack.baseUrl}/profile?first`)
    expect(b.status).toBe(302)
    expect(b.location?.href).toBe(`${stack.baseUrl}/profile?second`)
  })
})

describe.each(harnesses)('login with a public client ($name)', (harness) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(harness, { publicClient: true })
  })
  afterAll(() => stack?.close())

  it('signs in with PKCE alone, no client secret anywhere', async () => {
    const browser = stack.browser()
    const callback = await signIn(browser, stack.baseUrl, { login: 'pat', returnTo: '/profile' })
    expect(callback.status).toBe(302)
    expect(callback.location?.href).toBe(`${stack.baseUrl}/profile`)
    const me = await browser.request(`${stack.baseUrl}/api/me`)
    expect(me.json().sub).toBe('pat')
    expect((await browser.request(`${stack.baseUrl}/api/token`)).status).toBe(200)
  })
})

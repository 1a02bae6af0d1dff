/**
 * Interop with a real OpenID Provider nobody on this project wrote: Django OAuth Toolkit 1.7.0
 * (Debian's python3-django-oauth-toolkit), started on 127.0.0.1 by test/support/django-provider.ts
 * and driven through its own pages (Django's login form, DOT's consent form) in real Chromium, on
 * every example: sign-in, refresh at DOT, and sign-out.
 *
 * What DOT 1.7 has and has not (checked below): discovery (at a trailing-slash URL only), RS256
 * ID tokens, JWKS, userinfo, PKCE, refresh tokens that rotate; no `iss` authorization response
 * parameter, no end_session_endpoint (so the sign-out is the app's alone), no back-channel or
 * front-channel logout, and no revocation_endpoint in its metadata.
 *
 * The access token lives an hour at DOT; the app runs on a test clock moved past that hour, so
 * the refresh really happens at DOT (its rows are counted in DOT's database) without any wait.
 */

import type { AuthOptions } from '@codeflow/core'
import type { Browser as Chromium, Page, Response } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expressHarness } from './harness/express.js'
import { type Harness, harnesses } from './harness/index.js'
import { Browser } from './support/browser.js'
import { launchChromium, offlineContext, recordErrors } from './support/chromium.js'
import { type TestClock, testClock } from './support/clock.js'
import {
  type DjangoProvider,
  removeMigratedDatabase,
  startDjangoProvider,
} from './support/django-provider.js'
import { captureLogs } from './support/logs.js'
import { freePort, type Instance, SECRET, startInstances } from './support/stack.js'

const CLIENT_ID = 'codeflow-interop'
const CLIENT_SECRET = 'codeflow-interop-secret-value'
const USER = { username: 'alice', password: 'alice-password', email: 'alice@example.com' }
/** DOT's ACCESS_TOKEN_EXPIRE_SECONDS in these tests */
const ACCESS_TOKEN_SECONDS = 3600

/**
 * Every document response of the page from now on, as `METHOD WHO PATH STATUS` (redirects
 * included), `WHO` naming the origin by `names`.
 */
function documentTrail(page: Page, names: Record<string, string>): string[] {
  const trail: string[] = []
  page.on('response', (response: Response) => {
    const request = response.request()
    if (request.resourceType() !== 'document') return
    const url = new URL(response.url())
    trail.push(
      `${request.method()} ${names[url.origin] ?? url.origin} ${url.pathname} ${response.status()}`,
    )
  })
  return trail
}

/** GET /api/token in the page, which must answer 200: the access token's `expiresAt`. */
async function accessTokenExpiry(
  page: Page,
  baseUrl: string,
  where: () => string,
): Promise<number> {
  const response = await page.goto(`${baseUrl}/api/token`)
  expect(response?.status(), where()).toBe(200)
  const body = (await response?.json()) as { expiresAt?: unknown } | undefined
  expect(typeof body?.expiresAt, where()).toBe('number')
  return body?.expiresAt as number
}

interface RefreshTokenRow {
  id: number
  token: string
  revoked: string | null
}

/** DOT's refresh tokens, oldest first. */
function refreshTokens(dot: DjangoProvider): RefreshTokenRow[] {
  return dot.query<RefreshTokenRow>(
    'select id, token, revoked from oauth2_provider_refreshtoken order by id',
  )
}

/** How many rows one of DOT's tables has. */
function count(dot: DjangoProvider, table: string): number {
  return dot.query<{ n: number }>(`select count(*) as n from ${table}`)[0]?.n ?? 0
}

let browser: Chromium | undefined
beforeAll(async () => {
  browser = await launchChromium()
})
afterAll(async () => {
  await browser?.close()
  await removeMigratedDatabase()
})

/** The example of `harness` on `port`, wired to `dot` as a confidential client. */
async function startApp(
  harness: Harness,
  port: number,
  dot: DjangoProvider,
  options: { clock?: TestClock; auth?: Partial<AuthOptions> } = {},
): Promise<Instance> {
  const [app] = await startInstances(
    harness,
    [port],
    undefined,
    (url) => ({
      issuer: dot.issuer,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      baseUrl: url,
      secret: SECRET,
      scope: 'openid profile email',
      allowInsecureRequests: true,
      ...options.auth,
    }),
    options.clock ? { clock: options.clock } : {},
  )
  return app as Instance
}

/** A fresh offline page, what went wrong on it, and the trail of its documents. */
async function openPage(browser: Chromium, baseUrl: string, dot: DjangoProvider) {
  const { context, blocked } = await offlineContext(browser)
  const page = await context.newPage()
  page.setDefaultTimeout(15_000)
  const errors = recordErrors(page)
  const trail = documentTrail(page, { [baseUrl]: 'app', [dot.origin]: 'DOT' })
  return { context, blocked, page, errors, trail }
}

describe.each(harnesses)('Django OAuth Toolkit ($name)', (harness) => {
  let provider: DjangoProvider | undefined
  let app: Instance | undefined
  let clock: TestClock
  let baseUrl: string

  beforeAll(async () => {
    const port = await freePort()
    baseUrl = `http://localhost:${port}`
    provider = await startDjangoProvider({
      users: [USER],
      applications: [
        { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${baseUrl}/callback`] },
      ],
      accessTokenSeconds: ACCESS_TOKEN_SECONDS,
    })
    clock = testClock()
    app = await startApp(harness, port, provider, { clock })
  })

  afterAll(async () => {
    await app?.stop()
    await provider?.close()
  })

  it('signs in through the Django login and DOT consent, refreshes at DOT, and signs out locally', {
    timeout: 60_000,
  }, async () => {
    if (!browser || !provider || !app) throw new Error('setup failed')
    const dot = provider
    const { context, blocked, page, errors, trail } = await openPage(browser, baseUrl, dot)
    const callbacks: URL[] = []
    page.on('request', (request) => {
      const url = new URL(request.url())
      if (url.origin + url.pathname === `${baseUrl}/callback`) callbacks.push(url)
    })
    const where = () =>
      `at ${page.url()}; error responses: ${JSON.stringify(errors)}\napp: ${app?.output()}\nDOT: ${dot.output()}`

    const started = Date.now()
    try {
      expect(dot.issuer).toBe(`${dot.origin}/o`)
      const home = await page.goto(`${baseUrl}/`)
      expect(home?.status(), where()).toBe(200)
      await expect.poll(() => page.textContent('#status')).toContain('You are not signed in')

      trail.length = 0
      // sign in: /login, DOT's authorize endpoint, which sends an anonymous browser to Django's login
      await Promise.all([
        page.waitForURL(`${dot.origin}/accounts/login/**`),
        page.click('#sign-in'),
      ])
      const next = new URL(page.url()).searchParams.get('next') ?? ''
      expect(next.startsWith('/o/authorize/?'), where()).toBe(true)
      await page.fill('input[name="username"]', USER.username)
      await page.fill('input[name="password"]', USER.password)
      await Promise.all([page.waitForURL(`${dot.origin}/o/authorize/**`), page.click('#login')])

      // DOT's consent page (skip_authorization off)
      const allow = page.locator('#authorizationForm input[name="allow"]')
      await allow.waitFor()
      await Promise.all([page.waitForURL(`${baseUrl}/profile`), allow.click()])
      expect(page.url(), where()).toBe(`${baseUrl}/profile`)
      expect(trail, where()).toEqual([
        'GET app /login 302',
        'GET DOT /o/authorize/ 302',
        'GET DOT /accounts/login/ 200',
        'POST DOT /accounts/login/ 302',
        'GET DOT /o/authorize/ 200',
        'POST DOT /o/authorize/ 302',
        'GET app /callback 302',
        'GET app /profile 200',
      ])
      const sub = String(dot.userIds[USER.username])
      expect(await page.textContent('#sub'), where()).toBe(sub)
      const claims = JSON.parse((await page.textContent('#claims')) ?? '{}')
      // DOT 1.7 sends the user's database id as `sub`, and `auth_time` (the user's last_login)
      expect(claims, where()).toEqual({ sub, auth_time: expect.any(Number) })
      expect(claims.auth_time).toBeGreaterThanOrEqual(Math.floor(started / 1000))
      expect(claims.auth_time).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000))

      // the authorization response had no RFC 9207 `iss` (DOT does not send it, nor promise it)
      expect(callbacks.length, where()).toBe(1)
      expect([...(callbacks[0] as URL).searchParams.keys()].sort(), where()).toEqual([
        'code',
        'state',
      ])

      // at DOT: one access token, one refresh token, one ID token
      expect(refreshTokens(dot).length, where()).toBe(1)
      expect(count(dot, 'oauth2_provider_accesstoken')).toBe(1)
      expect(count(dot, 'oauth2_provider_idtoken')).toBe(1)
      const [firstIdToken] = dot.query<{ jti: string }>('select jti from oauth2_provider_idtoken')
      const expiresAt = await accessTokenExpiry(page, baseUrl, where)
      expect(Math.abs(expiresAt - (clock.now() / 1000 + ACCESS_TOKEN_SECONDS))).toBeLessThan(60)

      // an hour later by the app's clock the access token has expired: refreshed at DOT
      await clock.advanceTo((expiresAt + 1) * 1000)
      const after = await accessTokenExpiry(page, baseUrl, where)
      expect(after, where()).toBeGreaterThan(expiresAt + ACCESS_TOKEN_SECONDS - 60)
      // DOT rotated the refresh token (the first one revoked, a second one live) and replaced the
      // access token; it issued no new ID token (Debian's oauthlib 3.2 refreshes as plain OAuth 2)
      const rotated = refreshTokens(dot)
      expect(rotated.length, where()).toBe(2)
      expect(rotated[0]?.revoked, where()).not.toBeNull()
      expect(rotated[1]?.revoked, where()).toBeNull()
      expect(count(dot, 'oauth2_provider_accesstoken')).toBe(1)
      // two token requests in all: the code exchange and this refresh (runserver logs a request
      // once it has answered it: the line may come a moment after the answer)
      await expect
        .poll(() => dot.output().match(/"POST \/o\/token\/ HTTP\/1\.1" 200/g)?.length, {
          timeout: 10_000,
        })
        .toBe(2)
      expect(
        dot.query<{ jti: string }>('select jti from oauth2_provider_idtoken'),
        where(),
      ).toEqual([firstIdToken])
      // still signed in, as the same user, with the login's claims
      const again = await page.goto(`${baseUrl}/profile`)
      expect(again?.status(), where()).toBe(200)
      expect(await page.textContent('#sub'), where()).toBe(sub)
      expect(JSON.parse((await page.textContent('#claims')) ?? '{}'), where()).toEqual(claims)

      // sign out: POST /logout; DOT has no end_session_endpoint, so the app redirects home at once
      trail.length = 0
      await Promise.all([page.waitForURL(`${baseUrl}/`), page.click('#sign-out')])
      expect(trail, where()).toEqual(['POST app /logout 303', 'GET app / 200'])
      await expect.poll(() => page.textContent('#status')).toContain('You are not signed in')
      const cookies = await context.cookies(baseUrl)
      expect(
        cookies.filter((c) => c.name === 'codeflow' || /^codeflow\.\d+$/.test(c.name)),
        JSON.stringify(cookies),
      ).toEqual([])
      // DOT never heard of it: its metadata has no revocation_endpoint, the refresh token lives on
      const left = refreshTokens(dot)
      expect(left.length).toBe(2)
      expect(left[1]?.revoked).toBeNull()

      // the Django session did not end: the next sign-in skips the login form and asks for consent
      trail.length = 0
      await Promise.all([
        page.waitForURL(`${dot.origin}/o/authorize/**`),
        page.goto(`${baseUrl}/profile`),
      ])
      await allow.waitFor()
      await Promise.all([page.waitForURL(`${baseUrl}/profile`), allow.click()])
      expect(await page.textContent('#sub'), where()).toBe(sub)
      expect(trail, where()).toEqual([
        'GET app /profile 302',
        'GET app /login 302',
        'GET DOT /o/authorize/ 200',
        'POST DOT /o/authorize/ 302',
        'GET app /callback 302',
        'GET app /profile 200',
      ])

      expect(errors).toEqual([])
      expect(blocked, where()).toEqual([])
    } finally {
      await context.close()
    }
  })
})

describe('Django OAuth Toolkit 1.7 as Debian ships it (its own URLconf)', () => {
  let provider: DjangoProvider | undefined
  let app: Instance | undefined
  let baseUrl: string

  beforeAll(async () => {
    const port = await freePort()
    baseUrl = `http://localhost:${port}`
    provider = await startDjangoProvider({
      users: [USER],
      applications: [
        { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${baseUrl}/callback`] },
      ],
      stockUrls: true,
    })
    app = await startApp(expressHarness, port, provider)
  })

  afterAll(async () => {
    await app?.stop()
    await provider?.close()
  })

  it('publishes this metadata: no end_session, revocation, logout or iss parameter support', () => {
    if (!provider) throw new Error('setup failed')
    const { origin } = provider
    expect(provider.metadata).toEqual({
      issuer: `${origin}/o`,
      authorization_endpoint: `${origin}/o/authorize/`,
      token_endpoint: `${origin}/o/token/`,
      userinfo_endpoint: `${origin}/o/userinfo/`,
      jwks_uri: `${origin}/o/.well-known/jwks.json`,
      response_types_supported: [
        'code',
        'token',
        'id_token',
        'id_token token',
        'code token',
        'code id_token',
        'code id_token token',
      ],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256', 'HS256'],
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      claims_supported: ['sub'],
    })
  })

  it('serves discovery at <issuer>/.well-known/openid-configuration/ only: the spec URL redirects', async () => {
    if (!provider) throw new Error('setup failed')
    const spec = await fetch(`${provider.issuer}/.well-known/openid-configuration`, {
      redirect: 'manual',
    })
    expect(spec.status).toBe(301)
    expect(spec.headers.get('location')).toBe('/o/.well-known/openid-configuration/')
  })

  it('has no RP-initiated logout endpoint, and an RFC 7009 revocation endpoint it does not publish', async () => {
    if (!provider) throw new Error('setup failed')
    expect((await fetch(`${provider.issuer}/logout/`, { redirect: 'manual' })).status).toBe(404)
    const basic = Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')
    const revoked = await fetch(`${provider.issuer}/revoke_token/`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${basic}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: 'not-a-token', token_type_hint: 'refresh_token' }),
    })
    expect(revoked.status).toBe(200)
  })

  it('codeflow cannot discover it there: the login answers 502 and says why', async () => {
    if (!provider) throw new Error('setup failed')
    const logs = captureLogs(app as Instance)
    try {
      const response = await new Browser().request(`${baseUrl}/login`)
      expect(response.status, response.body).toBe(502)
      expect(response.json()).toEqual({
        error: 'discovery_failed',
        error_description: 'something went wrong on our side',
      })
      const hints = logs.lines().filter((line) => line.includes('discovery at'))
      expect(hints.length, logs.lines().join('\n')).toBe(1)
      expect(hints[0]).toContain(
        `discovery at ${provider.issuer}/.well-known/openid-configuration answered 301: check "issuer"`,
      )
    } finally {
      logs.stop()
    }
  })
})

describe('Django OAuth Toolkit with skip_authorization, client_secret_post and userinfo (express)', () => {
  let provider: DjangoProvider | undefined
  let app: Instance | undefined
  let clock: TestClock
  let baseUrl: string

  beforeAll(async () => {
    const port = await freePort()
    baseUrl = `http://localhost:${port}`
    provider = await startDjangoProvider({
      users: [USER],
      applications: [
        {
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          redirectUris: [`${baseUrl}/callback`],
          skipAuthorization: true,
        },
      ],
      accessTokenSeconds: ACCESS_TOKEN_SECONDS,
    })
    clock = testClock()
    app = await startApp(expressHarness, port, provider, {
      clock,
      auth: { clientAuth: 'client_secret_post', fetchUserinfo: true },
    })
  })

  afterAll(async () => {
    await app?.stop()
    await provider?.close()
  })

  it('signs in without a consent page, reads userinfo, refreshes, and refuses a rotated refresh token', {
    timeout: 60_000,
  }, async () => {
    if (!browser || !provider || !app) throw new Error('setup failed')
    const dot = provider
    const { context, blocked, page, errors, trail } = await openPage(browser, baseUrl, dot)
    const where = () =>
      `at ${page.url()}; error responses: ${JSON.stringify(errors)}\nDOT: ${dot.output()}`
    try {
      await page.goto(`${baseUrl}/`)
      trail.length = 0
      await Promise.all([
        page.waitForURL(`${dot.origin}/accounts/login/**`),
        page.click('#sign-in'),
      ])
      await page.fill('input[name="username"]', USER.username)
      await page.fill('input[name="password"]', USER.password)
      // skip_authorization: from the login form straight back to the app
      await Promise.all([page.waitForURL(`${baseUrl}/profile`), page.click('#login')])
      expect(trail, where()).toEqual([
        'GET app /login 302',
        'GET DOT /o/authorize/ 302',
        'GET DOT /accounts/login/ 200',
        'POST DOT /accounts/login/ 302',
        'GET DOT /o/authorize/ 302',
        'GET app /callback 302',
        'GET app /profile 200',
      ])
      const sub = String(dot.userIds[USER.username])
      expect(await page.textContent('#sub'), where()).toBe(sub)
      // userinfo answered (with the client_secret_post code exchange before it): only `sub`
      await expect
        .poll(() => dot.output(), { timeout: 10_000 })
        .toMatch(/"GET \/o\/userinfo\/ HTTP\/1\.1" 200/)
      const claims = JSON.parse((await page.textContent('#claims')) ?? '{}')
      expect(claims, where()).toEqual({ sub, auth_time: expect.any(Number) })

      const expiresAt = await accessTokenExpiry(page, baseUrl, where)
      await clock.advanceTo((expiresAt + 1) * 1000)
      expect(await accessTokenExpiry(page, baseUrl, where)).toBeGreaterThan(
        expiresAt + ACCESS_TOKEN_SECONDS - 60,
      )

      // the refresh token DOT rotated away is refused (no grace period by default)
      const [spent] = refreshTokens(dot)
      expect(spent?.revoked).not.toBeNull()
      const reuse = await fetch(`${dot.issuer}/token/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: spent?.token ?? '',
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
        }),
      })
      expect(reuse.status).toBe(400)
      expect(await reuse.json()).toEqual({ error: 'invalid_grant' })

      // what a refresh answers: no id_token, a new refresh token, the scope granted at login
      const [, live] = refreshTokens(dot)
      const refresh = await fetch(`${dot.issuer}/token/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: live?.token ?? '',
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
        }),
      })
      expect(refresh.status).toBe(200)
      const body = (await refresh.json()) as Record<string, unknown>
      expect(body).toEqual({
        access_token: expect.any(String),
        expires_in: ACCESS_TOKEN_SECONDS,
        token_type: 'Bearer',
        scope: 'openid profile email',
        refresh_token: expect.any(String),
      })
      expect(body.refresh_token).not.toBe(live?.token)

      expect(errors).toEqual([])
      expect(blocked, where()).toEqual([])
    } finally {
      await context.close()
    }
  })
})

/**
 * Back-channel logout (OpenID Connect Back-Channel Logout 1.0) on every adapter: every invalid
 * logout token is refused with 400 and a JSON error and changes nothing, a valid one ends the
 * session once; and end to end with the dev provider, signing out at the provider ends the session
 * on two instances that share Redis, with cookie sessions and with Redis sessions.
 */
import { randomBytes } from 'node:crypto'
import { decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import type { Browser, BrowserResponse } from './support/browser.js'
import { signIn } from './support/flow.js'
import { providerSid, signOutAtProvider } from './support/provider-logout.js'
import { type RedisServer, startRedis } from './support/redis.js'
import { CLIENT_ID, CLIENT_SECRET, type Stack, startStack } from './support/stack.js'

const EVENT = 'http://schemas.openid.net/event/backchannel-logout'
const FORM = 'application/x-www-form-urlencoded'

const epoch = () => Math.floor(Date.now() / 1000)
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis?.stop())

/** Posts a back-channel logout request as the provider does: no cookies, a urlencoded form. */
function postLogout(
  browser: Browser,
  baseUrl: string,
  body: string,
  type = FORM,
): Promise<BrowserResponse> {
  return browser.request(`${baseUrl}/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': type },
    body,
    cookies: false,
  })
}

const form = (token: string) => new URLSearchParams({ logout_token: token }).toString()

describe.each(harnesses)('back-channel logout ($name)', (harness) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(harness)
  })
  afterAll(() => stack?.close())

  /** A browser signed in as a fresh user, and its provider session id. */
  async function signedIn(): Promise<{ browser: Browser; sub: string; sid: string }> {
    const browser = stack.browser()
    const sub = `user-${randomBytes(4).toString('hex')}`
    await signIn(browser, stack.baseUrl, { login: sub })
    return { browser, sub, sid: await providerSid(stack.provider, browser, CLIENT_ID) }
  }

  const me = async (browser: Browser) => (await browser.request(`${stack.baseUrl}/api/me`)).status

  /** The claims of a valid logout token for `sid`, before any defect is added. */
  function claims(sid: string): Record<string, unknown> {
    const now = epoch()
    return {
      iss: stack.provider.issuer,
      aud: CLIENT_ID,
      iat: now,
      exp: now + 120,
      jti: randomBytes(12).toString('base64url'),
      events: { [EVENT]: {} },
      sid,
    }
  }

  it('refuses every invalid logout token with 400 and a JSON error, and changes nothing', async () => {
    const { browser, sub, sid } = await signedIn()
    const op = stack.provider
    const sign = (extra: Record<string, unknown>, header?: Record<string, unknown>) =>
      op.signLogoutToken({ sid, ...extra }, header)
    const { kid } = decodeProtectedHeader(await sign({}))
    const { privateKey: foreignKey } = await generateKeyPair('RS256')
    const foreign = (header: Record<string, unknown>) =>
      new SignJWT(claims(sid))
        .setProtectedHeader({ alg: 'RS256', typ: 'logout+jwt', ...header })
        .sign(foreignKey)
    const now = epoch()
    const variants: [string, string | Promise<string>][] = [
      ['a foreign key under the provider kid', foreign({ kid })],
      ['a foreign key under an unknown kid', foreign({ kid: 'not-the-providers' })],
      ['alg none', `${base64url({ alg: 'none', typ: 'logout+jwt' })}.${base64url(claims(sid))}.`],
      [
        'HS256 with the client secret',
        new SignJWT(claims(sid))
          .setProtectedHeader({ alg: 'HS256', typ: 'logout+jwt' })
          .sign(new TextEncoder().encode(CLIENT_SECRET)),
      ],
      ['another RSA alg than the pinned one', sign({}, { alg: 'RS384' })],
      ['a tampered signature', sign({}).then((t) => `${t.slice(0, -6)}AAAAAA`)],
      [
        'a tampered payload',
        sign({}).then((t) =>
          t.replace(/\.[^.]+\./, `.${base64url({ ...claims(sid), sub: 'x' })}.`),
        ),
      ],
      ['a wrong iss', sign({ iss: 'https://evil.example' })],
      ['a wrong aud', sign({ aud: 'another-client' })],
      ['no iat', sign({ iat: undefined })],
      ['an iat in the future', sign({ iat: now + 3600, exp: now + 3700 })],
      ['an iat too old', sign({ iat: now - 3600, exp: undefined })],
      ['an expired token', sign({ iat: now - 300, exp: now - 120 })],
      ['no events', sign({ events: undefined })],
      ['another event', sign({ events: { 'http://schemas.openid.net/event/other': {} } })],
      ['an event that is not an object', sign({ events: { [EVENT]: true } })],
      ['a nonce', sign({ nonce: 'n-0S6_WzA2Mj' })],
      ['neither sid nor sub', sign({ sid: undefined, sub: undefined })],
      ['no jti', sign({ jti: undefined })],
      ['an ID token typ', sign({}, { typ: 'id_token+jwt' })],
      ['an access token typ', sign({}, { typ: 'at+jwt' })],
      ['a typ that is not a string', sign({}, { typ: 7 })],
      ['a malformed token', 'not-a-jwt'],
      ['a token of three junk parts', 'a.b.c'],
      ['an empty token', ''],
      ['an over-long token', `${'a'.repeat(9000)}.b.c`],
    ]
    for (const [label, token] of variants) {
      const response = await postLogout(stack.browser(), stack.baseUrl, form(await token))
      expect(response.status, label).toBe(400)
      expect(response.header('content-type'), label).toMatch(/^application\/json/)
      expect(response.header('cache-control'), label).toBe('no-store')
      const body = response.json<{ error: string; error_description: string }>()
      expect(body.error, label).toBe('invalid_request')
      expect(body.error_description, label).toBeTruthy()
    }
    const bodies: [string, string, string?][] = [
      ['no logout_token', 'token=abc'],
      ['two logout_tokens', `${form(await sign({}))}&${form(await sign({}))}`],
      ['a JSON body', JSON.stringify({ logout_token: await sign({}) }), 'application/json'],
      ['an oversized body', `logout_token=${'a'.repeat(70_000)}`],
      ['an empty body', ''],
    ]
    for (const [label, body, type] of bodies) {
      const response = await postLogout(stack.browser(), stack.baseUrl, body, type)
      expect(response.status, label).toBe(400)
      expect(response.json().error, label).toBe('invalid_request')
    }
    // a token about the same user that is valid but for another provider session changes nothing
    // for this one either
    expect(
      (await postLogout(browser, stack.baseUrl, form(await sign({ sid: 'other-sid', sub }))))
        .status,
    ).toBe(200)
    expect(await me(browser)).toBe(200)
  })

  it('accepts a valid token once: 200 no-store, the session is anonymous, a replay is 400', async () => {
    const { browser, sid } = await signedIn()
    const bystander = await signedIn()
    const token = await stack.provider.signLogoutToken({ sid })
    const response = await postLogout(stack.browser(), stack.baseUrl, form(token))
    expect(response.status).toBe(200)
    expect(response.header('cache-control')).toBe('no-store')
    expect(response.setCookies).toEqual([])
    expect(await me(browser)).toBe(401)
    expect((await browser.navigate(`${stack.baseUrl}/`)).body).toContain('You are not signed in')
    expect(await me(bystander.browser)).toBe(200)

    const replay = await postLogout(stack.browser(), stack.baseUrl, form(token))
    expect(replay.status).toBe(400)
    expect(replay.json().error_description).toMatch(/replayed/)
  })

  it.each([
    ['JWT', 'JWT'],
    ['jwt', 'jwt'],
    ['application/logout+jwt', 'Application/Logout+JWT'],
    ['no typ', undefined],
  ])(
    'accepts a logout token typed %s (Keycloak sends JWT) and ends the session',
    async (_label, typ) => {
      const { browser, sid } = await signedIn()
      const token = await stack.provider.signLogoutToken({ sid }, { typ })
      expect(decodeProtectedHeader(token).typ).toBe(typ)
      const response = await postLogout(stack.browser(), stack.baseUrl, form(token))
      expect(response.status).toBe(200)
      expect(await me(browser)).toBe(401)
    },
  )

  it('ends by sub the sessions that began by the token iat, not a later login', async () => {
    const { browser, sub } = await signedIn()
    const iat = epoch()
    const token = await stack.provider.signLogoutToken({ sub, iat })
    expect((await postLogout(stack.browser(), stack.baseUrl, form(token))).status).toBe(200)
    expect(await me(browser)).toBe(401)
    while (epoch() <= iat) await new Promise((resolve) => setTimeout(resolve, 50))
    await signIn(browser, stack.baseUrl, { login: sub })
    expect(await me(browser)).toBe(200)
  })

  it('answers other methods with 405', async () => {
    const response = await stack.browser().request(`${stack.baseUrl}/backchannel-logout`)
    expect(response.status).toBe(405)
  })
})

const stores = [
  { name: 'cookie sessions and Redis revocations', redisSessions: false },
  { name: 'Redis sessions', redisSessions: true },
]

describe.each(harnesses)('back-channel logout across instances ($name)', (harness) => {
  describe.each(stores)('with $name', ({ redisSessions }) => {
    it('signing out at the provider ends its sessions on both instances', async () => {
      const stack = await startStack(harness, { redisUrl: redis.url, redisSessions, instances: 2 })
      try {
        const [a, b] = stack.instances.map((instance) => instance.baseUrl) as [string, string]
        // one provider session, two app sessions: signed in at A, then at B from a second tab
        // (it shares the provider's cookies, not the app's)
        const first = stack.browser()
        await signIn(first, a)
        const second = stack.browser()
        const providerHost = new URL(stack.provider.issuer).hostname
        second.cookies.push(...first.cookies.filter((c) => c.host === providerHost))
        await signIn(second, b)
        const bystander = stack.browser()
        await signIn(bystander, b, { login: 'bob' })
        const status = async (browser: Browser, url: string) =>
          (await browser.request(`${url}/api/me`)).status
        // the jar sends a cookie to every port of its host: each session is used on both
        for (const url of [a, b]) {
          expect(await status(first, url)).toBe(200)
          expect(await status(second, url)).toBe(200)
        }

        // (the provider renewed its session cookie at the second login: the tab has the current one)
        const { deliveries } = await signOutAtProvider(stack.provider, second)
        // the provider told the instance registered as the client's backchannel_logout_uri (A)
        expect(deliveries).toEqual([{ clientId: CLIENT_ID, ok: true }])
        for (const url of [a, b]) {
          expect(await status(first, url), url).toBe(401)
          expect(await status(second, url), url).toBe(401)
          expect(await status(bystander, url), url).toBe(200)
        }
      } finally {
        await stack.close()
      }
    })
  })
})

/**
 * Completed refreshes are remembered: a request that still carries the cookie of before a refresh
 * (sent before the browser stored the new one, or after a response that could not set cookies)
 * adopts the refreshed session instead of spending a rotated refresh token a second time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Auth,
  createAuth,
  getAccessToken,
  getSession,
  UnauthenticatedError,
} from '../src/index.js'
import { randomId } from '../src/random.js'
import { unseal } from '../src/seal/seal.js'
import { type RotatingProvider, startRotatingProvider } from './rotating-provider.js'
import {
  APP,
  context,
  cookieHeader,
  epoch,
  SECRET,
  sealKeysOf,
  sessionCookie,
  sessionData,
} from './support.js'

let provider: RotatingProvider
let auth: Auth

beforeAll(async () => {
  provider = await startRotatingProvider()
  auth = createAuth({
    issuer: provider.issuer,
    clientId: 'client',
    clientSecret: 'client-secret',
    baseUrl: APP,
    secret: SECRET,
    allowInsecureRequests: true,
  })
})
afterAll(() => provider.close())

/** The cookie of a session whose access token has expired, with a refresh token the provider accepts. */
async function expiredSession(): Promise<string> {
  const refreshToken = `initial-${randomId()}`
  provider.grant(refreshToken)
  return sessionCookie(
    auth,
    sessionData({ id: randomId(), iss: provider.issuer, refreshToken, expiresAt: epoch() - 10 }),
  )
}

function request(cookie: string) {
  return context('/api/token', { headers: { cookie } })
}

describe('remembered refreshes', () => {
  it('gives a request with the old cookie the refreshed session, without a second refresh', async () => {
    const old = await expiredSession()
    const before = provider.tokenRequests
    const first = request(old)
    const token = await getAccessToken(auth, first)
    expect(provider.tokenRequests).toBe(before + 1)

    const second = request(old)
    expect((await getAccessToken(auth, second)).token).toBe(token.token)
    expect(provider.tokenRequests).toBe(before + 1)
    // the second request writes the refreshed session, so its browser catches up
    expect(second.cookies.map((c) => c.name)).toContain('codeflow')
    const adopted = await getSession(auth, request(cookieHeader(second.cookies, old)))
    expect(adopted?.accessToken).toBe(token.token)
    expect(adopted?.refreshToken).toBe((await getSession(auth, first))?.refreshToken)
  })

  it('follows several rotations', async () => {
    const old = await expiredSession()
    const first = request(old)
    await getAccessToken(auth, first)
    const later = request(cookieHeader(first.cookies, old))
    const newest = await getAccessToken(auth, later, { forceRefresh: true })
    const before = provider.tokenRequests
    expect((await getAccessToken(auth, request(old))).token).toBe(newest.token)
    expect(provider.tokenRequests).toBe(before)
  })

  it('shares one refresh among concurrent requests', async () => {
    const old = await expiredSession()
    const before = provider.tokenRequests
    const tokens = await Promise.all(
      Array.from({ length: 8 }, () => getAccessToken(auth, request(old))),
    )
    expect(new Set(tokens.map((t) => t.token)).size).toBe(1)
    expect(provider.tokenRequests).toBe(before + 1)
  })

  it('does not rewrite a session that is current', async () => {
    const old = await expiredSession()
    const first = request(old)
    await getAccessToken(auth, first)
    const current = request(cookieHeader(first.cookies, old))
    await getAccessToken(auth, current)
    expect(current.cookies).toEqual([])
  })

  it('never remembers a refused refresh: each attempt asks the provider and ends the session', async () => {
    const cookie = await sessionCookie(
      auth,
      sessionData({
        id: randomId(),
        iss: provider.issuer,
        refreshToken: 'never-issued',
        expiresAt: epoch() - 10,
      }),
    )
    for (let attempt = 1; attempt <= 2; attempt++) {
      const before = provider.tokenRequests
      const ctx = request(cookie)
      await expect(getAccessToken(auth, ctx)).rejects.toBeInstanceOf(UnauthenticatedError)
      expect(provider.tokenRequests).toBe(before + 1)
      expect(ctx.cookies.some((c) => c.name === 'codeflow' && c.options.maxAge === 0)).toBe(true)
    }
  })

  it('seals only the session data after a refresh, not the claims derived from it', async () => {
    const first = request(await expiredSession())
    await getAccessToken(auth, first)
    const sealed = first.cookies.find((c) => c.name === 'codeflow')?.value as string
    const data = await unseal('session', sealed, sealKeysOf(auth), () => {})
    expect(data).toBeDefined()
    expect(Object.keys(data ?? {})).not.toContain('user')
    expect(Object.keys(data ?? {})).not.toContain('endsAt')
  })
})

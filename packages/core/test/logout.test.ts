/**
 * Logout's CSRF rules (a state change must be provably same-origin) and the local session being
 * cleared in the same response that redirects to the provider.
 */
import { type DevProvider, startDevProvider } from '@codeflow/dev-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { handleAuthRoute, handleLogout } from '../src/adapter.js'
import { AuthError, type AuthLogEvent, ForbiddenError } from '../src/index.js'
import { APP, context, sessionCookie, sessionData, testAuth } from './support.js'

/** An issuer nothing listens on: these tests must not need the provider. */
const DEAD_ISSUER = 'http://127.0.0.1:9'

function offlineAuth(logger?: (event: AuthLogEvent) => void) {
  return testAuth({
    issuer: DEAD_ISSUER,
    allowInsecureRequests: true,
    ...(logger ? { logger } : {}),
  })
}

function logoutRequest(method: string, headers: Record<string, string>) {
  return context('/logout', { method, headers })
}

describe('cross-site logout', () => {
  it('never changes state on HEAD, even same-origin', async () => {
    const auth = offlineAuth()
    const cookie = await sessionCookie(auth)
    const ctx = logoutRequest('HEAD', { 'sec-fetch-site': 'same-origin', cookie })
    const response = await handleLogout(auth, ctx)
    expect(response.status).toBe(200)
    expect(response.headers.Location).toBeUndefined()
    expect(ctx.cookies).toHaveLength(0)
  })

  it.each([
    ['cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['same-site (a sibling subdomain)', { 'sec-fetch-site': 'same-site' }],
    ['without Fetch Metadata', {}],
    ['with only a same-origin Origin header', { origin: APP }],
  ])('answers a GET %s with a confirmation page and changes nothing', async (_label, headers) => {
    const auth = offlineAuth()
    const cookie = await sessionCookie(auth)
    const ctx = logoutRequest('GET', { ...headers, cookie })
    const response = await handleLogout(auth, ctx)
    expect(response.status).toBe(200)
    expect(response.headers['Content-Type']).toBe('text/html; charset=utf-8')
    expect(response.headers['Cache-Control']).toBe('no-store')
    expect(response.headers.Location).toBeUndefined()
    expect(response.body).toContain(
      `<form method="post" action="${APP}/logout"><button type="submit">Sign out</button></form>`,
    )
    expect(ctx.cookies).toHaveLength(0)
  })

  it.each([
    ['a foreign Origin', { origin: 'https://evil.example' }],
    [
      'a foreign Origin claiming same-origin fetch',
      { origin: 'https://evil.example', 'sec-fetch-site': 'same-origin' },
    ],
    ['Origin: null', { origin: 'null' }],
    ['our host on another scheme', { origin: 'https://localhost:3000' }],
    ['our host on another port', { origin: 'http://localhost:3001' }],
    ['no Origin, cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['no Origin, same-site', { 'sec-fetch-site': 'same-site' }],
    ['no Origin, user-initiated (none)', { 'sec-fetch-site': 'none' }],
    ['no Origin and no Fetch Metadata', {}],
  ])('refuses a POST with %s: 403 and no Set-Cookie', async (_label, headers) => {
    const auth = offlineAuth()
    const cookie = await sessionCookie(auth)
    const ctx = logoutRequest('POST', { ...headers, cookie })
    const error = await handleLogout(auth, ctx).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ForbiddenError)
    expect((error as ForbiddenError).status).toBe(403)
    expect((error as ForbiddenError).code).toBe('cross_site_request')
    expect(ctx.cookies).toHaveLength(0)
  })

  it.each(['PUT', 'DELETE', 'PATCH'])('answers %s with 405 and Allow', async (method) => {
    const ctx = logoutRequest(method, { origin: APP, 'sec-fetch-site': 'same-origin' })
    const error = await handleLogout(offlineAuth(), ctx).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AuthError)
    expect((error as AuthError).status).toBe(405)
    expect((error as AuthError).headers.Allow).toBe('GET, POST')
    expect(ctx.cookies).toHaveLength(0)
  })

  it('escapes the form action built from the configured base URL', async () => {
    const auth = testAuth({
      baseUrl: 'https://app.example.com/portal',
      issuer: DEAD_ISSUER,
      allowInsecureRequests: true,
    })
    const response = await handleLogout(
      auth,
      context('https://app.example.com/portal/logout', {
        headers: { 'sec-fetch-site': 'cross-site' },
      }),
    )
    expect(response.body).toContain('action="https://app.example.com/portal/logout"')
  })
})

describe('same-origin logout without the provider', () => {
  it('POST without a session: 303 to the post-logout page, no provider call', async () => {
    const events: AuthLogEvent[] = []
    const ctx = logoutRequest('POST', { origin: APP })
    const response = await handleLogout(
      offlineAuth((e) => events.push(e)),
      ctx,
    )
    expect(response.status).toBe(303)
    expect(response.headers.Location).toBe(`${APP}/`)
    expect(response.headers['Cache-Control']).toBe('no-store')
    expect(events).toHaveLength(0)
  })

  it.each([
    ['POST, same Origin', 'POST', { origin: APP }, 303],
    ['POST, no Origin, same-origin fetch', 'POST', { 'sec-fetch-site': 'same-origin' }, 303],
    ['GET, same-origin', 'GET', { 'sec-fetch-site': 'same-origin' }, 302],
    ['GET, typed in the address bar', 'GET', { 'sec-fetch-site': 'none' }, 302],
  ])(
    '%s: clears the session even while the provider is down',
    async (_label, method, headers, status) => {
      const events: AuthLogEvent[] = []
      const auth = offlineAuth((e) => events.push(e))
      const cookie = await sessionCookie(auth)
      const ctx = logoutRequest(method, { ...headers, cookie })
      const response = await handleLogout(auth, ctx)
      expect(response.status).toBe(status)
      expect(response.headers.Location).toBe(`${APP}/`)
      expect(ctx.cookies.map((c) => [c.name, c.options.maxAge])).toEqual([['codeflow', 0]])
      expect(events.map((e) => e.code)).toContain('logout_provider_unavailable')
    },
  )

  it('is reached through handleAuthRoute on the logout path', async () => {
    const response = await handleAuthRoute(offlineAuth(), logoutRequest('POST', { origin: APP }))
    expect(response?.status).toBe(303)
  })
})

describe('same-origin logout with the provider', () => {
  let op: DevProvider

  beforeAll(async () => {
    op = await startDevProvider({
      clients: [
        {
          clientId: 'client',
          clientSecret: 'client-secret',
          redirectUris: [`${APP}/callback`],
          postLogoutRedirectUris: [`${APP}/signed-out`],
        },
      ],
    })
  })

  afterAll(async () => {
    await op.close()
  })

  it('clears the session and redirects to end_session with id_token_hint, client_id and the post-logout URL', async () => {
    const auth = testAuth({
      issuer: op.issuer,
      allowInsecureRequests: true,
      postLogoutRedirect: '/signed-out',
    })
    const data = sessionData({ iss: op.issuer })
    const cookie = await sessionCookie(auth, data)
    const ctx = logoutRequest('POST', { origin: APP, cookie })
    const response = await handleLogout(auth, ctx)
    expect(response.status).toBe(303)
    expect(response.headers['Cache-Control']).toBe('no-store')
    const location = new URL(response.headers.Location ?? '')
    expect(`${location.origin}${location.pathname}`).toBe(`${op.issuer}/session/end`)
    expect(location.searchParams.get('id_token_hint')).toBe(data.idToken)
    expect(location.searchParams.get('client_id')).toBe('client')
    expect(location.searchParams.get('post_logout_redirect_uri')).toBe(`${APP}/signed-out`)
    expect(ctx.cookies.map((c) => [c.name, c.options.maxAge])).toEqual([['codeflow', 0]])
  })
})

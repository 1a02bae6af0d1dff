/**
 * RP-initiated logout: a random `state` on the end-session request, a same-origin `returnTo`
 * carried through the provider in a short sealed cookie bound to that state, a local logout when
 * the provider has no end_session_endpoint or is down, and the revocation that kills a copy of a
 * logged-out cookie session.
 */
import { type DevProvider, startDevProvider } from '@codeflow/dev-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { handleAuthRoute, handleLogout } from '../src/adapter.js'
import { type Auth, createMemoryRevocationStore, getSession } from '../src/index.js'
import { startRotatingProvider } from './rotating-provider.js'
import { APP, context, cookieHeader, sessionCookie, sessionData, testAuth } from './support.js'

const SAME_ORIGIN = { origin: APP }

function logoutPost(cookie: string, body = '', path = '/logout') {
  return context(path, {
    method: 'POST',
    headers: { ...SAME_ORIGIN, cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  })
}

describe('logout through a provider with an end_session_endpoint', () => {
  let op: DevProvider
  beforeAll(async () => {
    op = await startDevProvider({
      clients: [
        {
          clientId: 'client',
          clientSecret: 'client-secret',
          redirectUris: [`${APP}/callback`],
          postLogoutRedirectUris: [`${APP}/`],
        },
      ],
    })
  })
  afterAll(() => op.close())

  function auth(): Auth {
    return testAuth({
      issuer: op.issuer,
      allowInsecureRequests: true,
      session: { revocationStore: createMemoryRevocationStore() },
    })
  }

  async function loggedOut(app: Auth, body: string, path?: string) {
    const cookie = await sessionCookie(app, sessionData({ iss: op.issuer }))
    const ctx = logoutPost(cookie, body, path)
    const response = await handleLogout(app, ctx)
    return { cookie, ctx, response, location: new URL(response.headers.Location as string) }
  }

  it('sends a fresh random state with every end-session request', async () => {
    const app = auth()
    const first = await loggedOut(app, '')
    const second = await loggedOut(app, '')
    expect(first.location.pathname).toBe('/session/end')
    const states = [first, second].map((l) => l.location.searchParams.get('state'))
    for (const state of states) expect(state).toMatch(/^[\w-]{22}$/)
    expect(states[0]).not.toBe(states[1])
    // without a returnTo there is nothing to carry: no logout cookie
    expect(first.ctx.cookies.map((c) => c.name)).toEqual(['codeflow'])
  })

  it.each([
    ['a form field', 'returnTo=%2Fgoodbye%3Fa%3D1', undefined],
    ['a query parameter', '', '/logout?returnTo=%2Fgoodbye%3Fa%3D1'],
  ])('carries a same-origin returnTo from %s through the provider', async (_label, body, path) => {
    const app = auth()
    const { ctx, location } = await loggedOut(app, body, path)
    const state = location.searchParams.get('state') as string
    expect(location.searchParams.get('post_logout_redirect_uri')).toBe(`${APP}/`)
    const logoutCookie = ctx.cookies.find((c) => c.name === 'codeflow_logout')
    expect(logoutCookie?.options).toMatchObject({ httpOnly: true, sameSite: 'lax', maxAge: 600 })
    expect(logoutCookie?.value).not.toContain('goodbye')

    // the provider sends the browser back to the post_logout_redirect_uri with the state
    const back = context(`/?state=${state}`, { headers: { cookie: cookieHeader(ctx.cookies) } })
    const landing = await handleAuthRoute(app, back)
    expect(landing?.status).toBe(302)
    expect(landing?.headers.Location).toBe(`${APP}/goodbye?a=1`)
    expect(back.cookies.map((c) => [c.name, c.options.maxAge])).toEqual([['codeflow_logout', 0]])
  })

  it('lets the app serve its page when the state does not match, deleting the logout cookie', async () => {
    const app = auth()
    const { ctx } = await loggedOut(app, 'returnTo=%2Fgoodbye')
    const cookie = cookieHeader(ctx.cookies)
    for (const query of ['?state=forged', '']) {
      const back = context(`/${query}`, { headers: { cookie } })
      expect(await handleAuthRoute(app, back)).toBeUndefined()
      expect(back.cookies.map((c) => [c.name, c.options.maxAge])).toEqual([['codeflow_logout', 0]])
    }
    // no logout cookie: the landing page is not ours at all
    const plain = context('/?state=anything')
    expect(await handleAuthRoute(app, plain)).toBeUndefined()
    expect(plain.cookies).toEqual([])
  })

  it.each([
    'https://evil.example/',
    '//evil.example/',
    '/\\evil.example',
    'javascript:alert(1)',
    '%2F%2Fevil.example',
  ])('ignores an unsafe returnTo %s: no logout cookie, home afterwards', async (returnTo) => {
    const app = auth()
    const { ctx, location } = await loggedOut(app, new URLSearchParams({ returnTo }).toString())
    expect(location.origin).toBe(op.issuer)
    expect(ctx.cookies.map((c) => c.name)).toEqual(['codeflow'])
  })

  it('puts a safe returnTo into the cross-site confirmation form, and drops an unsafe one', async () => {
    const app = auth()
    const page = await handleLogout(
      app,
      context('/logout?returnTo=%2Fbye', { headers: { 'sec-fetch-site': 'cross-site' } }),
    )
    expect(page.body).toContain(
      `action="${APP}/logout?returnTo=${encodeURIComponent(`${APP}/bye`)}"`,
    )
    const unsafe = await handleLogout(
      app,
      context('/logout?returnTo=https%3A%2F%2Fevil.example', {
        headers: { 'sec-fetch-site': 'cross-site' },
      }),
    )
    expect(unsafe.body).toContain(`action="${APP}/logout"`)
  })

  it('revokes the session id, so a copy of the logged-out cookie is dead too', async () => {
    const app = auth()
    const { cookie } = await loggedOut(app, '')
    expect(await getSession(app, context('/', { headers: { cookie } }))).toBeUndefined()
  })
})

describe('local logout', () => {
  it('without an end_session_endpoint: clears the session and lands on returnTo or home', async () => {
    const provider = await startRotatingProvider()
    try {
      const app = testAuth({ issuer: provider.issuer, allowInsecureRequests: true })
      for (const [body, landing] of [
        ['', `${APP}/`],
        ['returnTo=%2Fsee-you', `${APP}/see-you`],
      ]) {
        const cookie = await sessionCookie(app, sessionData({ iss: provider.issuer }))
        const ctx = logoutPost(cookie, body)
        const response = await handleLogout(app, ctx)
        expect(response.status).toBe(303)
        expect(response.headers.Location).toBe(landing)
        expect(ctx.cookies.map((c) => [c.name, c.options.maxAge])).toEqual([['codeflow', 0]])
      }
    } finally {
      await provider.close()
    }
  })

  it('with the provider down: lands on returnTo at once', async () => {
    const app = testAuth({ issuer: 'http://127.0.0.1:9', allowInsecureRequests: true })
    const cookie = await sessionCookie(app)
    const response = await handleLogout(app, logoutPost(cookie, 'returnTo=%2Flater'))
    expect(response.headers.Location).toBe(`${APP}/later`)
  })
})

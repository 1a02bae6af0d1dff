/** `beforeSessionSaved` at a real login: keep only the claims the app needs, drop the ID token. */
import { type DevProvider, startDevProvider } from '@codeflow/dev-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Browser } from '../../../test/support/browser.js'
import { authorize } from '../../../test/support/flow.js'
import { handleCallback, handleLogin, handleLogout } from '../src/adapter.js'
import { type AuthOptions, getSession } from '../src/index.js'
import { APP, context, cookieHeader, SECRET, testAuth } from './support.js'

describe('beforeSessionSaved', () => {
  let provider: DevProvider
  beforeAll(async () => {
    provider = await startDevProvider({
      claims: { groups: Array.from({ length: 100 }, (_, i) => `group-${i}`) },
      clients: [
        {
          clientId: 'hook-client',
          clientSecret: 'hook-client-secret',
          redirectUris: [`${APP}/callback`],
          postLogoutRedirectUris: [`${APP}/`],
        },
      ],
    })
  })
  afterAll(() => provider.close())

  async function login(overrides: Partial<AuthOptions>) {
    const auth = testAuth({
      issuer: provider.issuer,
      clientId: 'hook-client',
      clientSecret: 'hook-client-secret',
      allowInsecureRequests: true,
      secret: SECRET,
      ...overrides,
    })
    const start = context('/login')
    const redirect = await handleLogin(auth, start)
    const browser = new Browser()
    const first = await browser.navigate(redirect.headers.Location as string)
    const callbackUrl = await authorize(browser, first, 'hooked')
    const callback = context(callbackUrl.href, { headers: { cookie: cookieHeader(start.cookies) } })
    await handleCallback(auth, callback)
    return { auth, cookie: cookieHeader(callback.cookies) }
  }

  it('keeps the claims it returns and drops the ID token when asked', async () => {
    const seen: string[] = []
    const { auth, cookie } = await login({
      beforeSessionSaved({ user, tokens }) {
        seen.push(...Object.keys(user), tokens.accessToken ? 'access' : '')
        return { user: { sub: user.sub, email: user.email }, idToken: undefined }
      },
    })
    expect(seen).toContain('groups')
    expect(seen).toContain('access')
    const session = await getSession(auth, context('/', { headers: { cookie } }))
    expect(session?.user).toEqual({ sub: 'hooked', email: 'hooked@example.test' })
    expect(session?.idToken).toBeUndefined()
    // logout still works, without id_token_hint
    const logout = await handleLogout(
      auth,
      context('/logout', { method: 'POST', headers: { cookie, origin: APP } }),
    )
    const location = new URL(logout.headers.Location as string)
    expect(location.searchParams.get('client_id')).toBe('hook-client')
    expect(location.searchParams.has('id_token_hint')).toBe(false)
  })

  it('makes the session cookie smaller', async () => {
    const full = await login({})
    const trimmed = await login({
      beforeSessionSaved: ({ user }) => ({ user: { sub: user.sub }, idToken: undefined }),
    })
    expect(trimmed.cookie.length).toBeLessThan(full.cookie.length / 2)
  })
})

/**
 * getAccessToken in the core against the scripted provider: tokens for another resource or scope
 * kept beside the session's own, and the cross-instance refresh lock of a locking store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Browser } from '../../../test/support/browser.js'
import { authorize } from '../../../test/support/flow.js'
import {
  type ScriptedProvider,
  startScriptedProvider,
} from '../../../test/support/scripted-provider.js'
import { handleCallback, handleLogin } from '../src/adapter.js'
import {
  type Auth,
  type AuthOptions,
  createMemoryStore,
  getAccessToken,
  getSession,
} from '../src/index.js'
import { APP, context, cookieHeader, SECRET, testAuth } from './support.js'

let provider: ScriptedProvider
beforeAll(async () => {
  provider = await startScriptedProvider({ redirectUris: [`${APP}/callback`] })
})
afterAll(() => provider.close())

async function login(
  overrides: Partial<AuthOptions> = {},
): Promise<{ auth: Auth; cookie: string }> {
  const auth = testAuth({
    issuer: provider.issuer,
    clientId: provider.clientId,
    clientSecret: provider.clientSecret,
    allowInsecureRequests: true,
    secret: SECRET,
    ...overrides,
  })
  const start = context('/login')
  const redirect = await handleLogin(auth, start)
  const browser = new Browser()
  const first = await browser.navigate(redirect.headers.Location as string)
  const callbackUrl = await authorize(browser, first)
  const callback = context(callbackUrl.href, { headers: { cookie: cookieHeader(start.cookies) } })
  await handleCallback(auth, callback)
  return { auth, cookie: cookieHeader(callback.cookies) }
}

describe('getAccessToken for a resource or scope (RFC 8707)', () => {
  it('asks for it with the refresh token and keeps it beside the session’s own token', async () => {
    provider.refresh = 'rotate'
    const { auth, cookie } = await login()
    const own = await getAccessToken(auth, context('/', { headers: { cookie } }))
    const ctx = context('/', { headers: { cookie } })
    const api = await getAccessToken(auth, ctx, {
      resource: 'https://api.example',
      scope: 'openid',
    })
    expect(provider.lastRefresh?.get('resource')).toBe('https://api.example')
    expect(provider.lastRefresh?.get('scope')).toBe('openid')
    expect(api.token).not.toBe(own.token)
    const next = cookieHeader(ctx.cookies, cookie)
    // the session's own token is unchanged; the resource token is reused while valid
    const refreshes = provider.counts('refresh')
    const again = context('/', { headers: { cookie: next } })
    expect((await getAccessToken(auth, again)).token).toBe(own.token)
    expect(
      (await getAccessToken(auth, again, { resource: 'https://api.example', scope: 'openid' }))
        .token,
    ).toBe(api.token)
    expect(provider.counts('refresh')).toBe(refreshes)
    // the rotated refresh token was kept: a forced refresh of the session's own token works
    const forced = await getAccessToken(auth, context('/', { headers: { cookie: next } }), {
      forceRefresh: true,
    })
    expect(forced.token).not.toBe(own.token)
  })
})

describe('refresh across instances with a locking store', () => {
  it('refreshes once for parallel callers on two Auths sharing one store (across processes: the next-start scenario)', async () => {
    provider.refresh = 'rotate'
    provider.accessTokenTtl = 1
    const store = createMemoryStore()
    const { cookie } = await login({ session: { store }, refreshMargin: 0 })
    provider.accessTokenTtl = 3600
    await new Promise((resolve) => setTimeout(resolve, 1200))
    const instance = () =>
      testAuth({
        issuer: provider.issuer,
        clientId: provider.clientId,
        clientSecret: provider.clientSecret,
        allowInsecureRequests: true,
        secret: SECRET,
        session: { store },
        refreshMargin: 0,
      })
    const [a, b] = [instance(), instance()]
    const before = provider.counts('refresh')
    const tokens = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        getAccessToken(i % 2 ? a : b, context('/', { headers: { cookie } })),
      ),
    )
    expect(provider.counts('refresh')).toBe(before + 1)
    expect(new Set(tokens.map((t) => t.token)).size).toBe(1)
    const session = await getSession(a, context('/', { headers: { cookie } }))
    expect(session?.accessToken).toBe(tokens[0]?.token)
  })
})

describe('the memory store lock', () => {
  it('is exclusive until released or expired', async () => {
    const store = createMemoryStore()
    const release = await store.lock?.('x', 1)
    expect(release).toBeTypeOf('function')
    expect(await store.lock?.('x', 1)).toBeUndefined()
    await release?.()
    const again = await store.lock?.('x', 0.01)
    expect(again).toBeTypeOf('function')
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(await store.lock?.('x', 1)).toBeTypeOf('function')
  })
})

/**
 * The front-channel logout endpoint: `iss` and `sid` required and checked, the provider session
 * revoked (so the logout works in a cross-site iframe, where our SameSite=Lax cookie is not sent),
 * this browser's cookie cleared when its session has that sid, a small no-store HTML page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { handleAuthRoute } from '../src/adapter.js'
import {
  type Auth,
  AuthError,
  createMemoryRevocationStore,
  createMemoryStore,
  getSession,
  type SessionOptions,
} from '../src/index.js'
import { type RotatingProvider, startRotatingProvider } from './rotating-provider.js'
import { context, sessionCookie, sessionData, testAuth } from './support.js'

describe('front-channel logout', () => {
  let provider: RotatingProvider
  beforeAll(async () => {
    provider = await startRotatingProvider()
  })
  afterAll(() => provider.close())

  function auth(session: SessionOptions = {}): Auth {
    return testAuth({
      issuer: provider.issuer,
      allowInsecureRequests: true,
      session: { revocationStore: createMemoryRevocationStore(), ...session },
    })
  }

  function frontchannel(app: Auth, query: Record<string, string>, cookie?: string) {
    const ctx = context(`/frontchannel-logout?${new URLSearchParams(query)}`, {
      headers: cookie ? { cookie } : {},
    })
    return { ctx, response: handleAuthRoute(app, ctx) }
  }

  const read = (app: Auth, cookie: string) => getSession(app, context('/', { headers: { cookie } }))

  it('revokes the sid without the cookie (a cross-site iframe) and answers a no-store page', async () => {
    const app = auth()
    const cookie = await sessionCookie(app, sessionData({ iss: provider.issuer, sid: 'fc-1' }))
    const other = await sessionCookie(app, sessionData({ iss: provider.issuer, sid: 'fc-2' }))
    const { ctx, response } = frontchannel(app, { iss: provider.issuer, sid: 'fc-1' })
    const page = await response
    expect(page?.status).toBe(200)
    expect(page?.headers['Content-Type']).toBe('text/html; charset=utf-8')
    expect(page?.headers['Cache-Control']).toBe('no-store')
    expect(page?.body).toContain('signed out')
    expect(ctx.cookies).toEqual([])
    expect(await read(app, cookie)).toBeUndefined()
    expect(await read(app, other)).toBeDefined()
  })

  it("clears this browser's cookie, and the store's data, when its session has that sid", async () => {
    const store = createMemoryStore()
    const app = auth({ store })
    const data = sessionData({ iss: provider.issuer, sid: 'fc-3' })
    const cookie = await sessionCookie(app, data)
    const { ctx, response } = frontchannel(app, { iss: provider.issuer, sid: 'fc-3' }, cookie)
    expect((await response)?.status).toBe(200)
    expect(ctx.cookies.map((c) => [c.name, c.options.maxAge])).toEqual([['codeflow', 0]])
    expect(await store.get(data.id)).toBeUndefined()
  })

  it("leaves this browser's session alone when it has another sid", async () => {
    const app = auth()
    const cookie = await sessionCookie(app, sessionData({ iss: provider.issuer, sid: 'fc-4' }))
    const { ctx, response } = frontchannel(app, { iss: provider.issuer, sid: 'fc-5' }, cookie)
    expect((await response)?.status).toBe(200)
    expect(ctx.cookies).toEqual([])
    expect(await read(app, cookie)).toBeDefined()
  })

  it.each([
    ['a wrong iss', { iss: 'https://evil.example', sid: 'fc-6' }],
    ['no iss', { sid: 'fc-6' }],
    ['no sid', { iss: 'ISSUER' }],
    ['an empty sid', { iss: 'ISSUER', sid: '' }],
    ['an over-long sid', { iss: 'ISSUER', sid: 'x'.repeat(256) }],
  ])('rejects %s with 400 and changes nothing', async (_label, query) => {
    const app = auth()
    const cookie = await sessionCookie(app, sessionData({ iss: provider.issuer, sid: 'fc-6' }))
    const resolved = Object.fromEntries(
      Object.entries(query).map(([k, v]) => [k, v === 'ISSUER' ? provider.issuer : v]),
    )
    const { ctx, response } = frontchannel(app, resolved, cookie)
    const error = await response.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AuthError)
    expect((error as AuthError).status).toBe(400)
    expect((error as AuthError).code).toBe('invalid_request')
    expect(ctx.cookies).toEqual([])
    expect(await read(app, cookie)).toBeDefined()
  })

  it('changes nothing on HEAD, and answers 405 to POST', async () => {
    const app = auth()
    const cookie = await sessionCookie(app, sessionData({ iss: provider.issuer, sid: 'fc-7' }))
    const query = new URLSearchParams({ iss: provider.issuer, sid: 'fc-7' })
    const head = await handleAuthRoute(
      app,
      context(`/frontchannel-logout?${query}`, { method: 'HEAD', headers: { cookie } }),
    )
    expect(head?.status).toBe(200)
    expect(await read(app, cookie)).toBeDefined()
    const post = await handleAuthRoute(
      app,
      context(`/frontchannel-logout?${query}`, { method: 'POST' }),
    ).catch((e: unknown) => e)
    expect((post as AuthError).status).toBe(405)
  })
})

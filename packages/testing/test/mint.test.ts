/**
 * `mintSession` through the core's own reading code: a minted session reads as signed in with its
 * claims, in a cookie or a server-side store; a tampered cookie or one past its lifetime reads as
 * anonymous; an expired access token with the provider's refresh token is refreshed there; the
 * cookie forms (header, Set-Cookie, Playwright) are right for the app's base URL.
 */
import {
  type AuthOptions,
  createAuth,
  createMemoryStore,
  getAccessToken,
  getSession,
} from '@codeflow/core'
import { createWebContext } from '@codeflow/core/adapter'
import { type DevProvider, startDevProvider } from '@codeflow/dev-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mintSession } from '../src/index.js'

const SECRET = 'a-test-secret-of-at-least-32-characters'
const APP = 'http://localhost:3000'

function options(overrides: Partial<AuthOptions> = {}): AuthOptions {
  return {
    issuer: 'https://op.example.com',
    clientId: 'client',
    clientSecret: 'client-secret',
    baseUrl: APP,
    secret: SECRET,
    logger: false,
    ...overrides,
  }
}

const read = (app: AuthOptions | ReturnType<typeof createAuth>, cookie: string, url = APP) => {
  const auth = 'secret' in app ? createAuth(app) : app
  return getSession(auth, createWebContext(new Request(url, { headers: { cookie } })))
}

describe('mintSession', () => {
  it('makes a session that reads as signed in, with the claims given', async () => {
    const app = options()
    const minted = await mintSession(app, {
      user: { sub: 'minted-user', email: 'minted@example.test', groups: ['admin'] },
      acr: 'urn:mfa',
    })
    const session = await read(app, minted.cookie)
    expect(session?.sub).toBe('minted-user')
    expect(session?.user).toMatchObject({ email: 'minted@example.test', groups: ['admin'] })
    expect(session?.iss).toBe('https://op.example.com')
    expect(session?.acr).toBe('urn:mfa')
    expect(minted.session.sub).toBe('minted-user')
  })

  it('gives the cookie as a header, Set-Cookie values and Playwright cookies for the base URL', async () => {
    const plain = await mintSession(options(), { user: { sub: 'u' } })
    expect(plain.setCookie[0]).toMatch(/^codeflow=.+; Path=\/; .*HttpOnly/)
    expect(plain.cookies).toEqual([
      expect.objectContaining({
        name: 'codeflow',
        domain: 'localhost',
        path: '/',
        httpOnly: true,
        secure: false,
        sameSite: 'Lax',
      }),
    ])
    expect(plain.cookies[0]?.expires).toBeGreaterThan(Date.now() / 1000)
    expect(plain.storageState()).toEqual({ cookies: plain.cookies, origins: [] })

    const secure = await mintSession(options({ baseUrl: 'https://app.example.com' }), {
      user: { sub: 'u' },
    })
    expect(secure.cookies[0]).toMatchObject({
      name: '__Host-codeflow',
      domain: 'app.example.com',
      secure: true,
    })
    // a browser-session cookie has no expiry
    const session = await mintSession(options({ session: { persistent: false } }), {
      user: { sub: 'u' },
    })
    expect(session.cookies[0]?.expires).toBe(-1)
  })

  it('writes the session to a server-side store, the cookie holding only its reference', async () => {
    const store = createMemoryStore()
    const app = options({ session: { store } })
    const auth = createAuth(app)
    const minted = await mintSession(auth, { user: { sub: 'stored' } })
    // the reference, and what its revocation check asks: no claims, no tokens
    expect(minted.cookie.length).toBeLessThan(500)
    expect((await read(auth, minted.cookie))?.sub).toBe('stored')
    // the same options (the same store object) read it too
    expect((await read(app, minted.cookie))?.sub).toBe('stored')
    // gone from the store: anonymous
    await store.delete(minted.session.id)
    expect(await read(auth, minted.cookie)).toBeUndefined()
  })

  it('is anonymous when tampered with, past its lifetime, or for another app', async () => {
    const app = options()
    const minted = await mintSession(app, { user: { sub: 'u' } })
    const value = minted.cookie.slice('codeflow='.length)
    const flipped = value.slice(0, 40) + (value[40] === 'A' ? 'B' : 'A') + value.slice(41)
    expect(await read(app, `codeflow=${flipped}`)).toBeUndefined()

    const now = Math.floor(Date.now() / 1000)
    // active a moment ago, but logged in eight days ago: past the absolute lifetime (7 days)
    const old = await mintSession(app, {
      user: { sub: 'u' },
      createdAt: now - 8 * 24 * 3600,
      updatedAt: now - 60,
    })
    expect(await read(app, old.cookie)).toBeUndefined()
    // logged in three days ago and active since: signed in
    const active = await mintSession(app, { user: { sub: 'u' }, createdAt: now - 3 * 24 * 3600 })
    expect((await read(app, active.cookie))?.sub).toBe('u')
    const idle = await mintSession(app, {
      user: { sub: 'u' },
      createdAt: now - 3 * 24 * 3600,
      updatedAt: now - 2 * 24 * 3600,
    })
    expect(await read(app, idle.cookie)).toBeUndefined()
    // a time in the future would outlive the lifetimes and the logouts by sub
    await expect(mintSession(app, { user: { sub: 'u' }, createdAt: now + 3600 })).rejects.toThrow(
      /future/,
    )
    // another issuer's app with the same secret
    expect(
      await read(options({ issuer: 'https://other.example.com' }), minted.cookie),
    ).toBeUndefined()
  })

  it('mints for one provider of several', async () => {
    const app: AuthOptions = {
      providers: [
        { issuer: 'https://a.example.com', clientId: 'a' },
        { id: 'b', issuer: 'https://b.example.com', clientId: 'b' },
      ],
      baseUrl: APP,
      secret: SECRET,
      logger: false,
    }
    const minted = await mintSession(app, { user: { sub: 'u' }, provider: 'b' })
    expect(await read(app, minted.cookie)).toMatchObject({
      iss: 'https://b.example.com',
      provider: 'b',
    })
    await expect(mintSession(app, { user: { sub: 'u' }, provider: 'c' })).rejects.toThrow(/"c"/)
    await expect(mintSession(app, { user: {} as never })).rejects.toThrow(/"user.sub"/)
  })

  describe('with the dev provider', () => {
    let op: DevProvider
    const client = {
      clientId: 'web',
      clientSecret: 'web-secret',
      redirectUris: [`${APP}/callback`],
    }
    beforeAll(async () => {
      op = await startDevProvider({ clients: [client] })
    })
    afterAll(() => op?.close())

    it('refreshes an expired access token with the provider refresh token, as a real session', async () => {
      const issued = await op.issueTokens({ accountId: 'alice' })
      const auth = createAuth(
        options({
          issuer: op.issuer,
          clientId: 'web',
          clientSecret: 'web-secret',
          allowInsecureRequests: true,
        }),
      )
      const minted = await mintSession(auth, {
        user: { sub: 'alice', groups: ['kit'] },
        accessToken: 'expired',
        expiresAt: Math.floor(Date.now() / 1000) - 60,
        refreshToken: issued.refreshToken,
      })
      const ctx = createWebContext(new Request(APP, { headers: { cookie: minted.cookie } }))
      const token = await getAccessToken(auth, ctx)
      // the minted claims are the session's own: a refresh keeps them
      expect((await getSession(auth, ctx))?.user).toMatchObject({ sub: 'alice', groups: ['kit'] })
      expect(token.token).not.toBe('expired')
      expect(token.expiresAt).toBeGreaterThan(Date.now() / 1000)
      expect(op.counts('token')).toBe(1)
    })

    it('spells iss as asked, so logouts by the provider spelling find the session', async () => {
      const auth = createAuth(
        options({
          issuer: `${op.issuer}/`,
          clientId: 'web',
          clientSecret: 'web-secret',
          allowInsecureRequests: true,
        }),
      )
      const asWritten = await mintSession(auth, { user: { sub: 'u' } })
      expect(asWritten.session.iss).toBe(`${op.issuer}/`)
      const asTokens = await mintSession(auth, { user: { sub: 'u' }, iss: op.issuer })
      expect(asTokens.session.iss).toBe(op.issuer)
      expect((await read(auth, asTokens.cookie))?.iss).toBe(op.issuer)
    })
  })
})

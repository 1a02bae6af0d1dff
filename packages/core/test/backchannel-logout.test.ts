/**
 * The back-channel logout endpoint's mechanics, against the dev provider's real keys: the answers
 * (200 no-store, 400 JSON, 405, 503), what a valid token revokes (sid, or sub before its iat),
 * jti replay, and the JWKS cache (no JWKS storm from junk tokens, no retry storm after a failed
 * fetch). Every invalid token variant runs on every adapter in test/backchannel-logout.test.ts.
 */
import { type DevProvider, startDevProvider } from '@codeflow/dev-provider'
import { generateKeyPair, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { handleAuthRoute } from '../src/adapter.js'
import {
  type Auth,
  type AuthLogEvent,
  createMemoryRevocationStore,
  getSession,
  type RevocationStore,
  SessionStoreError,
} from '../src/index.js'
import { startRotatingProvider } from './rotating-provider.js'
import { context, epoch, sessionCookie, sessionData, testAuth } from './support.js'

const CLIENT = 'client'

function post(auth: Auth, body: string, contentType = 'application/x-www-form-urlencoded') {
  const ctx = context('/backchannel-logout', {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  })
  return handleAuthRoute(auth, ctx)
}

function form(token: string): string {
  return new URLSearchParams({ logout_token: token }).toString()
}

describe('back-channel logout', () => {
  let op: DevProvider
  beforeAll(async () => {
    op = await startDevProvider({
      clients: [
        {
          clientId: CLIENT,
          clientSecret: 'secret',
          redirectUris: ['http://localhost:3000/callback'],
        },
      ],
    })
  })
  afterAll(() => op.close())

  function auth(overrides: Parameters<typeof testAuth>[0] = {}) {
    return testAuth({
      issuer: op.issuer,
      clientId: CLIENT,
      allowInsecureRequests: true,
      session: { revocationStore: createMemoryRevocationStore() },
      ...overrides,
    })
  }

  async function signedIn(app: Auth, sid: string, sub = 'alice') {
    const cookie = await sessionCookie(app, sessionData({ iss: op.issuer, sub, sid }))
    return () => getSession(app, context('/', { headers: { cookie } }))
  }

  it('accepts a valid token once: 200, no-store, no body; the sid is revoked; a replay is 400', async () => {
    const app = auth()
    const session = await signedIn(app, 'sid-valid')
    const other = await signedIn(app, 'sid-other')
    const token = await op.signLogoutToken({ sub: 'alice', sid: 'sid-valid' })
    const response = await post(app, form(token))
    expect(response?.status).toBe(200)
    expect(response?.headers['Cache-Control']).toBe('no-store')
    expect(response?.body).toBeUndefined()
    expect(await session()).toBeUndefined()
    expect(await other()).toBeDefined()

    const replay = await post(app, form(token))
    expect(replay?.status).toBe(400)
    expect(JSON.parse(replay?.body ?? '')).toEqual({
      error: 'invalid_request',
      error_description: 'the logout token was already used ("jti" replayed)',
    })
  })

  it('revokes by sub the sessions that began by the token iat, when it has no sid', async () => {
    const app = auth()
    const before = await signedIn(app, 'sid-a', 'bob')
    const iat = epoch()
    const response = await post(app, form(await op.signLogoutToken({ sub: 'bob', iat })))
    expect(response?.status).toBe(200)
    expect(await before()).toBeUndefined()
    const later = await sessionCookie(
      app,
      sessionData({ iss: op.issuer, sub: 'bob', sid: 'sid-b', createdAt: iat + 1 }),
    )
    expect(await getSession(app, context('/', { headers: { cookie: later } }))).toBeDefined()
  })

  it('answers 400 JSON for a missing, repeated or non-form logout_token, and an oversized body', async () => {
    const app = auth()
    const token = await op.signLogoutToken({ sid: 'sid-x' })
    const cases: [string, string | undefined][] = [
      ['', undefined],
      [`${form(token)}&${form(token)}`, undefined],
      [JSON.stringify({ logout_token: token }), 'application/json'],
      [`logout_token=${'a'.repeat(70_000)}`, undefined],
    ]
    for (const [body, type] of cases) {
      const response = await post(app, body, type)
      expect(response?.status, body.slice(0, 40)).toBe(400)
      expect(response?.headers['Content-Type']).toBe('application/json; charset=utf-8')
      expect(response?.headers['Cache-Control']).toBe('no-store')
      expect(JSON.parse(response?.body ?? '').error).toBe('invalid_request')
    }
  })

  it('answers 405 with Allow: POST to other methods', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const response = await handleAuthRoute(auth(), context('/backchannel-logout', { method }))
      expect(response?.status).toBe(405)
      expect(response?.headers.Allow).toBe('POST')
    }
  })

  it('reports rejections to the logger', async () => {
    const events: AuthLogEvent[] = []
    await post(auth({ logger: (e) => events.push(e) }), form('not-a-jwt'))
    expect(events.map((e) => [e.code, e.level])).toEqual([['backchannel_logout_rejected', 'warn']])
  })

  it('fetches the JWKS once, and junk tokens with unknown kids refetch it at most once per cooldown', async () => {
    const app = auth()
    const start = op.counts('jwks')
    await post(app, form(await op.signLogoutToken({ sid: 'sid-jwks-1' })))
    await post(app, form(await op.signLogoutToken({ sid: 'sid-jwks-2' })))
    expect(op.counts('jwks')).toBe(start + 1)
    const { privateKey } = await generateKeyPair('RS256')
    for (let i = 0; i < 20; i++) {
      const junk = await new SignJWT({ sid: `junk-${i}` })
        .setProtectedHeader({ alg: 'RS256', kid: `unknown-${i}` })
        .sign(privateKey)
      expect((await post(app, form(junk)))?.status).toBe(400)
    }
    // the key set was fetched at most once more (the first unknown kid), not 20 times
    expect(op.counts('jwks')).toBeLessThanOrEqual(start + 2)
  })

  it('answers 503 when the revocation store fails', async () => {
    const failing: RevocationStore = {
      ...createMemoryRevocationStore(),
      revoke: async () => {
        throw new SessionStoreError()
      },
    }
    const app = auth({ session: { revocationStore: failing } })
    const response = await post(app, form(await op.signLogoutToken({ sid: 'sid-store' })))
    expect(response?.status).toBe(503)
    expect(JSON.parse(response?.body ?? '').error).toBe('temporarily_unavailable')
  })
})

describe('back-channel logout while the provider is unreachable', () => {
  it('answers 503 JSON while discovery fails', async () => {
    const app = testAuth({ issuer: 'http://127.0.0.1:9', allowInsecureRequests: true })
    // well formed, of the app's issuer: only discovery can tell it is not valid
    const { privateKey } = await generateKeyPair('RS256')
    const token = await new SignJWT({ sid: 's' })
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer('http://127.0.0.1:9')
      .setAudience('client')
      .sign(privateKey)
    const response = await post(app, form(token))
    expect(response?.status).toBe(503)
    expect(response?.headers['Retry-After']).toBeDefined()
    expect(JSON.parse(response?.body ?? '').error).toBe('temporarily_unavailable')
  })

  it('does not refetch a failing JWKS for every token (cooldown after a failure)', async () => {
    // this provider answers its jwks_uri with 400: every fetch attempt counts as a token request
    const provider = await startRotatingProvider()
    try {
      const app = testAuth({ issuer: provider.issuer, allowInsecureRequests: true })
      const { privateKey } = await generateKeyPair('RS256')
      const token = await new SignJWT({ sid: 's' })
        .setProtectedHeader({ alg: 'RS256', kid: 'k' })
        .setIssuer(provider.issuer)
        .setAudience('client')
        .sign(privateKey)
      for (let i = 0; i < 5; i++) {
        const response = await post(app, form(token))
        expect(response?.status).toBe(503)
        expect(JSON.parse(response?.body ?? '').error).toBe('temporarily_unavailable')
      }
      expect(provider.tokenRequests).toBe(1)
    } finally {
      await provider.close()
    }
  })
})

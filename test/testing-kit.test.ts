/**
 * @codeflow/testing on every harness: a minted session (in a cookie, and in Redis) is accepted by
 * every adapter as signed in, a tampered minted cookie and one past its lifetime are anonymous, a
 * back-channel logout ends a minted session, and `signIn` signs in for real over HTTP with the
 * claims the dev provider is told to give.
 */
import { type RedisConnection, redisConnection } from '@codeflow/example-shared'
import { mintSession, signIn } from '@codeflow/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import { Browser } from './support/browser.js'
import { type RedisServer, startRedis } from './support/redis.js'
import { type Stack, startStack } from './support/stack.js'

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis?.stop())

/** The app's `/api/me` with `cookie`: its status and `sub`. */
async function me(baseUrl: string, cookie: string): Promise<{ status: number; sub?: string }> {
  const response = await new Browser().request(`${baseUrl}/api/me`, {
    headers: { cookie },
    cookies: false,
  })
  return {
    status: response.status,
    ...(response.status === 200 ? { sub: response.json<{ sub: string }>().sub } : {}),
  }
}

describe.each(harnesses)('the test kit ($name)', (harness) => {
  describe('with cookie sessions', () => {
    let stack: Stack
    beforeAll(async () => {
      stack = await startStack(harness, { provider: { claims: { groups: ['users'] } } })
    })
    afterAll(() => stack?.close())

    it('mints a session every adapter reads as signed in', async () => {
      const minted = await mintSession(stack.options, {
        user: { sub: 'minted', email: 'minted@example.test' },
      })
      expect(await me(stack.baseUrl, minted.cookie)).toEqual({ status: 200, sub: 'minted' })
    })

    it('keeps a tampered minted cookie and one past its lifetime anonymous', async () => {
      const minted = await mintSession(stack.options, { user: { sub: 'minted' } })
      const [name = '', value = ''] = minted.cookie.split('=')
      const flipped = value.slice(0, 30) + (value[30] === 'A' ? 'B' : 'A') + value.slice(31)
      expect(await me(stack.baseUrl, `${name}=${flipped}`)).toEqual({ status: 401 })
      const now = Math.floor(Date.now() / 1000)
      // active a minute ago, but logged in eight days ago: past the absolute lifetime
      const old = await mintSession(stack.options, {
        user: { sub: 'minted' },
        createdAt: now - 8 * 24 * 3600,
        updatedAt: now - 60,
      })
      expect(await me(stack.baseUrl, old.cookie)).toEqual({ status: 401 })
    })

    it('ends a minted session by a back-channel logout of its provider session', async () => {
      const minted = await mintSession(stack.options, { user: { sub: 'minted' }, sid: 'sid-m' })
      expect((await me(stack.baseUrl, minted.cookie)).status).toBe(200)
      const token = await stack.provider.signLogoutToken({ sid: 'sid-m' })
      const logout = await new Browser().request(`${stack.baseUrl}/backchannel-logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }).toString(),
        cookies: false,
      })
      expect(logout.status).toBe(200)
      expect(await me(stack.baseUrl, minted.cookie)).toEqual({ status: 401 })
    })

    it('signs in for real over HTTP, with the claims the provider is told to give', async () => {
      const signedIn = await signIn(stack.baseUrl, {
        user: 'kit-user',
        claims: { groups: ['kit'] },
        provider: stack.provider,
      })
      expect(await me(stack.baseUrl, signedIn.cookie)).toEqual({ status: 200, sub: 'kit-user' })
      const profile = await new Browser().request(`${stack.baseUrl}/api/me`, {
        headers: { cookie: signedIn.cookie },
        cookies: false,
      })
      expect(profile.json().groups).toEqual(['kit'])
      expect(signedIn.cookies.map((cookie) => cookie.domain)).toEqual(
        signedIn.cookies.map(() => 'localhost'),
      )
    })

    it('refuses to call a sign-in that comes back anonymous signed in', async () => {
      // prompt=none for a user the provider does not know: back to the app, no session
      await expect(
        signIn(stack.baseUrl, { user: 'nobody', query: { prompt: 'none' } }),
      ).rejects.toThrow(/the callback answered 302 without a session/)
    })

    it('keeps signing in after the provider rotates its keys (the app fetches the new JWKS)', async () => {
      const before = await signIn(stack.baseUrl, { user: 'before-rotation' })
      const { kid } = await stack.provider.rotateKeys()
      expect(kid).toEqual(expect.any(String))
      const after = await signIn(stack.baseUrl, { user: 'after-rotation' })
      expect(await me(stack.baseUrl, after.cookie)).toEqual({ status: 200, sub: 'after-rotation' })
      expect(await me(stack.baseUrl, before.cookie)).toEqual({
        status: 200,
        sub: 'before-rotation',
      })
    })
  })

  describe('with sessions in Redis', () => {
    let stack: Stack
    let connection: RedisConnection
    beforeAll(async () => {
      stack = await startStack(harness, { redisUrl: redis.url })
      connection = redisConnection(redis.url)
    })
    afterAll(async () => {
      await connection?.close()
      await stack?.close()
    })

    it('mints a session into the store that every adapter reads as signed in', async () => {
      const minted = await mintSession(
        { ...stack.options, session: { ...stack.options.session, store: connection.store } },
        { user: { sub: 'stored-minted' } },
      )
      // the cookie is the session's reference (and what its revocation check asks), the session
      // is in Redis
      expect(minted.cookie.length).toBeLessThan(500)
      expect(await me(stack.baseUrl, minted.cookie)).toEqual({ status: 200, sub: 'stored-minted' })
      await connection.store.delete(minted.session.id)
      expect(await me(stack.baseUrl, minted.cookie)).toEqual({ status: 401 })
    })
  })
})

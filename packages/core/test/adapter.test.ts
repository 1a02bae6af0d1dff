/**
 * The adapter kit (`@codeflow/core/adapter`): `step` with one channel for errors, `authenticate`
 * and `authorize` at once when no I/O is needed, the per-request entries of `attach`, and an
 * `Auth` that shows nothing of its insides.
 */
import { describe, expect, it } from 'vitest'
import {
  attach,
  attached,
  authenticate,
  authorize,
  createWebContext,
  type SetCookie,
  step,
  toAuth,
  writtenCookies,
} from '../src/adapter.js'
import { appOf } from '../src/auth.js'
import { Auth, createAuth } from '../src/index.js'
import { APP, context, sessionCookie, testAuth, validOptions } from './support.js'

describe('step', () => {
  it('gives a value to next in the same tick', () => {
    const seen: unknown[] = []
    const result = step(
      () => 1,
      (value) => {
        seen.push(value)
        return 'next'
      },
      () => 'fail',
    )
    expect(result).toBe('next')
    expect(seen).toEqual([1])
  })

  it('sends a throw and a rejection to fail alone', async () => {
    const failed: unknown[] = []
    const fail = (error: unknown) => {
      failed.push((error as Error).message)
      return 'failed'
    }
    const next = () => 'next'
    expect(
      step(
        () => {
          throw new Error('thrown')
        },
        next,
        fail,
      ),
    ).toBe('failed')
    expect(await step(() => Promise.reject(new Error('rejected')), next, fail)).toBe('failed')
    expect(failed).toEqual(['thrown', 'rejected'])
  })

  it('leaves what next throws to the caller', async () => {
    const fail = () => 'fail'
    const boom = () => {
      throw new Error('next threw')
    }
    expect(() => step(() => 1, boom, fail)).toThrow('next threw')
    await expect(step(() => Promise.resolve(1), boom, fail)).rejects.toThrow('next threw')
  })
})

describe('authenticate', () => {
  it('answers a route of codeflow with its response', async () => {
    const result = await Promise.resolve(
      authenticate(testAuth(), context('/login', { method: 'POST' })),
    ).then(
      () => 'answered',
      (error: { status?: number }) => error.status,
    )
    expect(result).toBe(405)
  })

  it('gives a cached session at once, with its RequestAuth', async () => {
    const auth = testAuth()
    // written by another instance: this one has not seen the cookie yet
    const cookie = await sessionCookie(testAuth())
    const cold = authenticate(auth, context('/api/me', { headers: { cookie } }))
    expect(cold).toBeInstanceOf(Promise)
    expect((await cold).auth?.user?.sub).toBe('user-1')
    const warm = authenticate(auth, context('/api/me', { headers: { cookie } }))
    expect(warm).not.toBeInstanceOf(Promise)
    const { auth: requestAuth, response } = warm as Awaited<typeof warm>
    expect(response).toBeUndefined()
    expect(requestAuth?.isAuthenticated).toBe(true)
    expect(requestAuth?.session?.sub).toBe('user-1')
  })

  it('gives an anonymous request its RequestAuth at once', () => {
    const result = authenticate(testAuth(), context('/api/me'))
    expect(result).not.toBeInstanceOf(Promise)
    expect((result as Awaited<typeof result>).auth?.isAuthenticated).toBe(false)
  })

  it('goes on to the session at the post-logout page without a logout cookie', () => {
    const result = authenticate(testAuth(), context('/'))
    expect((result as Awaited<typeof result>).auth?.isAuthenticated).toBe(false)
  })
})

describe('authorize', () => {
  it('lets a cached session through at once and answers an anonymous one', async () => {
    const auth = testAuth()
    const cookie = await sessionCookie(auth)
    await authorize(auth, context('/x', { headers: { cookie } }))
    const signedIn = authorize(auth, context('/x', { headers: { cookie } }))
    expect(signedIn).not.toBeInstanceOf(Promise)
    expect((signedIn as Awaited<typeof signedIn>).session?.sub).toBe('user-1')
    const anonymous = authorize(auth, context('/x'), { unauthenticated: 'json' })
    expect((anonymous as Awaited<typeof anonymous>).response?.status).toBe(401)
  })
})

describe('attach', () => {
  const cookie = (name: string): SetCookie => ({
    name,
    value: 'v',
    options: { path: '/', httpOnly: true, secure: false, sameSite: 'lax', maxAge: 60 },
    header: `${name}=v`,
  })

  it('makes one context per request and instance, keeping an earlier instance', () => {
    const first = testAuth()
    const second = testAuth({ cookieName: 'other' })
    const request = {}
    const origins: string[] = []
    const create = (origin: string) => {
      origins.push(origin)
      return createWebContext(new Request(`${origin}/`))
    }
    const a = attach(request, first, create)
    expect(attach(request, first, create)).toBe(a)
    const b = attach(request, second, create)
    expect(b.previous).toBe(a)
    expect(attached(request)).toBe(b)
    expect(origins).toEqual([APP, APP])
    expect(attached({})).toBeUndefined()
  })

  it('collects the cookies every instance on the request wrote, in order', () => {
    const request = {}
    const a = attach(request, testAuth(), (origin) => createWebContext(new Request(origin)))
    const b = attach(request, testAuth({ cookieName: 'other' }), (origin) =>
      createWebContext(new Request(origin)),
    )
    a.ctx.setCookie(cookie('first'))
    b.ctx.setCookie(cookie('second'))
    a.ctx.setCookie(cookie('third'))
    expect(writtenCookies(request).map((c) => c.name)).toEqual(['first', 'third', 'second'])
  })
})

describe('an Auth', () => {
  it('shows nothing of its configuration or state', () => {
    const auth = createAuth(validOptions())
    expect(auth).toBeInstanceOf(Auth)
    expect(Object.keys(auth)).toEqual([])
    expect(JSON.stringify(auth)).toBe('{}')
    expect(Object.isFrozen(auth)).toBe(true)
    expect('options' in auth).toBe(false)
    expect(String(Object.getOwnPropertyNames(auth))).toBe('')
  })

  it('is made by createAuth only: anything else is refused', () => {
    expect(() => appOf({} as Auth)).toThrow(TypeError)
    expect(() => new (Auth as unknown as new () => Auth)()).toThrow(TypeError)
  })

  it('is taken as it is by toAuth, and made from options otherwise', () => {
    const auth = testAuth()
    expect(toAuth(auth)).toBe(auth)
    expect(toAuth(validOptions())).toBeInstanceOf(Auth)
    expect(toAuth(validOptions())).not.toBe(auth)
  })
})

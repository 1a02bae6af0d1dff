/**
 * The hot path (issue 9): a request that is not for a route of codeflow's, with a cookie session
 * already unsealed, is answered without a promise and without parsing its URL.
 */
import { describe, expect, it } from 'vitest'
import { authorize, createNodeContext } from '../src/adapter.js'
import type { Auth, HttpContext } from '../src/index.js'
import { routeRequest } from '../src/routes/table.js'
import { readSession } from '../src/session/read.js'
import { appFor, context, sessionCookie, settingsOf, testAuth } from './support.js'

/** The session read as the adapter kit reads it: the value itself when no I/O was needed. */
const getSessionNow = (auth: Auth, ctx: HttpContext) => readSession(appFor(auth), ctx)
/** A guard as the adapter kit runs it. */
const guardNow = authorize
/** The route table as the adapter kit consults it: `undefined` itself for a path not ours. */
const handleAuthRouteNow = (auth: Auth, ctx: HttpContext) => routeRequest(appFor(auth), ctx)

/** A context whose URL must not be needed: reading `url` throws. */
function unparsed(path: string, cookie = ''): HttpContext {
  return {
    get url(): URL {
      throw new Error(`the URL of ${path} was parsed`)
    },
    path,
    method: 'GET',
    headers: new Headers({ cookie }),
    cookieHeader: () => cookie,
    readForm: async () => new URLSearchParams(),
    setCookie() {},
  }
}

describe('the hot path', () => {
  it('reads a cached cookie session synchronously; the first read of a cookie is a promise', async () => {
    const auth = testAuth()
    const cookie = await sessionCookie(testAuth())
    const cold = getSessionNow(auth, context('/api/me', { headers: { cookie } }))
    expect(cold).toBeInstanceOf(Promise)
    expect((await cold)?.sub).toBe('user-1')
    const warm = getSessionNow(auth, context('/api/me', { headers: { cookie } }))
    expect(warm).not.toBeInstanceOf(Promise)
    expect((warm as { sub?: string } | undefined)?.sub).toBe('user-1')
    const guarded = guardNow(auth, context('/api/me', { headers: { cookie } }))
    expect(guarded).not.toBeInstanceOf(Promise)
    expect((guarded as { session?: { sub: string } }).session?.sub).toBe('user-1')
  })

  it('answers an anonymous guard synchronously too', () => {
    const guarded = guardNow(
      testAuth(),
      context('/api/me', { headers: { accept: 'application/json' } }),
    )
    expect(guarded).not.toBeInstanceOf(Promise)
    expect((guarded as { response?: { status: number } }).response?.status).toBe(401)
  })

  it('tells a request for another path apart without a promise and without parsing its URL', async () => {
    const auth = testAuth()
    const cookie = await sessionCookie(auth)
    const ctx = unparsed('/api/me', cookie)
    expect(handleAuthRouteNow(auth, ctx)).toBeUndefined()
    expect(getSessionNow(auth, ctx)).not.toBeInstanceOf(Promise)
  })

  it('parses the URL when the path has dot segments or escapes, so those still route', async () => {
    const auth = testAuth()
    expect(() => handleAuthRouteNow(auth, unparsed('/x/../login'))).toThrow(/was parsed/)
    expect(() => handleAuthRouteNow(auth, unparsed('/%6Cogin'))).toThrow(/was parsed/)
    // a POST: /login answers 405 without going to the provider, which proves it was routed
    const req = { method: 'POST', url: '/x/../login?returnTo=/a', headers: {} }
    const ctx = createNodeContext(req as never, {} as never, settingsOf(auth).origin)
    await expect(handleAuthRouteNow(auth, ctx)).rejects.toMatchObject({ status: 405 })
  })

  it('routes codeflow paths through a promise', async () => {
    const auth = testAuth()
    const post = handleAuthRouteNow(auth, context('/login', { method: 'POST' }))
    expect(post).toBeInstanceOf(Promise)
    await expect(post).rejects.toMatchObject({ status: 405 })
  })
})

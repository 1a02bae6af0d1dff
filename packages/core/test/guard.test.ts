import { describe, expect, it } from 'vitest'
import { authorize as guard } from '../src/adapter.js'
import type { HttpContext } from '../src/http/context.js'
import { type Auth, requireSession, safeReturnTo, UnauthenticatedError } from '../src/index.js'
import { loginUrlFor } from '../src/session/guard.js'
import { APP, appFor, context, sessionCookie, settingsOf, testAuth } from './support.js'

/** The login URL a guard of `auth` sends the request `ctx` to. */
function loginUrl(auth: Auth, ctx: HttpContext): string {
  return loginUrlFor(appFor(auth), ctx)
}

const NAVIGATE = { 'sec-fetch-mode': 'navigate', accept: 'text/html' }
const FETCH = { 'sec-fetch-mode': 'cors', accept: 'application/json' }

const LOGIN_WITH_RETURN = `${APP}/login?returnTo=%2Freports%3Fyear%3D2030%26q%3Da%2520b`

describe('guard', () => {
  it('returns the session when there is one, and no response', async () => {
    const auth = testAuth()
    const cookie = await sessionCookie(auth)
    for (const unauthenticated of ['auto', 'redirect', 'json'] as const) {
      const result = await guard(auth, context('/reports', { headers: { ...FETCH, cookie } }), {
        unauthenticated,
      })
      expect(result.response).toBeUndefined()
      expect(result.session?.sub).toBe('user-1')
    }
  })

  describe('auto (the default)', () => {
    it('redirects a page navigation to login, returning to the path and query', async () => {
      const { session, response } = await guard(
        testAuth(),
        context('/reports?year=2030&q=a%20b', { headers: NAVIGATE }),
      )
      expect(session).toBeUndefined()
      expect(response?.status).toBe(302)
      expect(response?.headers.Location).toBe(LOGIN_WITH_RETURN)
      expect(response?.headers['Cache-Control']).toBe('no-store')
    })

    it('redirects a navigation recognised by Accept alone', async () => {
      const { response } = await guard(
        testAuth(),
        context('/x', { headers: { accept: 'text/html' } }),
      )
      expect(response?.status).toBe(302)
    })

    it.each([
      ['a fetch', FETCH],
      ['a request without any hint (curl)', {}],
    ])('answers %s with 401 JSON and WWW-Authenticate', async (_label, headers) => {
      const { response } = await guard(
        testAuth(),
        context('/reports?year=2030&q=a%20b', { headers }),
      )
      expect(response?.status).toBe(401)
      expect(response?.headers['Content-Type']).toBe('application/json; charset=utf-8')
      expect(response?.headers['Cache-Control']).toBe('no-store')
      expect(response?.headers['WWW-Authenticate']).toBe(
        `Cookie realm="codeflow", login_url="${LOGIN_WITH_RETURN}"`,
      )
      expect(JSON.parse(response?.body ?? '')).toEqual({
        error: 'unauthenticated',
        error_description: 'authentication required',
      })
    })

    it('answers a POST with 401, even from a browser form', async () => {
      const { response } = await guard(
        testAuth(),
        context('/reports', { method: 'POST', headers: NAVIGATE }),
      )
      expect(response?.status).toBe(401)
    })
  })

  it('redirect mode redirects a fetch too', async () => {
    const { response } = await guard(testAuth(), context('/api/me', { headers: FETCH }), {
      unauthenticated: 'redirect',
    })
    expect(response?.status).toBe(302)
    expect(response?.headers.Location).toBe(`${APP}/login?returnTo=%2Fapi%2Fme`)
  })

  it('json mode answers a navigation with 401 JSON', async () => {
    const { response } = await guard(testAuth(), context('/page', { headers: NAVIGATE }), {
      unauthenticated: 'json',
    })
    expect(response?.status).toBe(401)
    expect(response?.headers['Content-Type']).toContain('application/json')
  })

  it('reads a rejected cookie as anonymous, not as an error', async () => {
    const { response } = await guard(
      testAuth(),
      context('/page', { headers: { ...NAVIGATE, cookie: 'codeflow=Fe26.2*1*forged' } }),
    )
    expect(response?.status).toBe(302)
  })
})

describe('loginUrl', () => {
  it('carries the current path and query for GET and HEAD', () => {
    const auth = testAuth()
    expect(loginUrl(auth, context('/reports?year=2030'))).toBe(
      `${APP}/login?returnTo=%2Freports%3Fyear%3D2030`,
    )
    expect(loginUrl(auth, context('/reports', { method: 'HEAD' }))).toBe(
      `${APP}/login?returnTo=%2Freports`,
    )
  })

  it.each(['POST', 'PUT', 'DELETE', 'PATCH'])('has no returnTo for %s', (method) => {
    expect(loginUrl(testAuth(), context('/reports?year=2030', { method }))).toBe(`${APP}/login`)
  })

  it('uses the configured origin and base path, not the request host', () => {
    const auth = testAuth({ baseUrl: 'https://app.example.com/portal' })
    const ctx = context('https://attacker.example/portal/page', {
      headers: { host: 'attacker.example', 'x-forwarded-host': 'attacker.example' },
    })
    expect(loginUrl(auth, ctx)).toBe(
      'https://app.example.com/portal/login?returnTo=%2Fportal%2Fpage',
    )
  })

  it.each([
    ['/page?a=1&b=%2F%2F#frag', `${APP}/page?a=1&b=%2F%2F`],
    ['//evil.example/x', undefined],
    ['/%2F%2Fevil.example', undefined],
    ['/a%5Cb', undefined],
  ])('makes a returnTo that login resolves on our origin or refuses (%s)', (path, expected) => {
    const auth = testAuth()
    const url = new URL(loginUrl(auth, context(`${APP}${path}`)))
    expect(url.origin).toBe(APP)
    expect(safeReturnTo(url.searchParams.get('returnTo'), settingsOf(auth).baseUrl)).toBe(expected)
  })

  it('round-trips an ordinary path through login unchanged', () => {
    const auth = testAuth()
    const url = new URL(loginUrl(auth, context('/reports?year=2030&q=a%20b')))
    expect(safeReturnTo(url.searchParams.get('returnTo'), settingsOf(auth).baseUrl)).toBe(
      `${APP}/reports?year=2030&q=a%20b`,
    )
  })
})

describe('requireSession', () => {
  it('throws UnauthenticatedError carrying the login URL', async () => {
    const error = await requireSession(testAuth(), context('/reports?y=1')).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UnauthenticatedError)
    expect((error as UnauthenticatedError).status).toBe(401)
    expect((error as UnauthenticatedError).loginUrl).toBe(
      `${APP}/login?returnTo=%2Freports%3Fy%3D1`,
    )
  })

  it('returns the session', async () => {
    const auth = testAuth()
    const cookie = await sessionCookie(auth)
    expect((await requireSession(auth, context('/', { headers: { cookie } }))).sub).toBe('user-1')
  })
})

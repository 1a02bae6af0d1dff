/**
 * The guard's claims rules and step-up checks, on sessions written by the library: matchers of
 * every kind (and claims of the wrong type), predicates, a malformed rule, a stale or missing
 * `auth_time`, another `acr`, and the 401 an API call gets instead of a login (RFC 9470).
 */
import { describe, expect, it } from 'vitest'
import { authorize as guard } from '../src/adapter.js'
import type { GuardOptions, SessionData, UserClaims } from '../src/index.js'
import { context, epoch, fakeIdToken, sessionCookie, sessionData, testAuth } from './support.js'

const FETCH = { 'sec-fetch-mode': 'cors', accept: 'application/json' }

/** A session whose user has `claims` (kept by beforeSessionSaved's `user`). */
function withUser(claims: Record<string, unknown>, extra: Partial<SessionData> = {}) {
  return sessionData({ user: { sub: 'user-1', ...claims } as UserClaims, ...extra })
}

async function judge(data: SessionData, options: GuardOptions) {
  const auth = testAuth()
  const cookie = await sessionCookie(auth, data)
  return guard(auth, context('/reports', { headers: { ...FETCH, cookie } }), options)
}

describe('claims rules', () => {
  it.each([
    ['equal to a string', { role: 'admin' }, { role: 'admin' }, true],
    ['a string that differs', { role: 'user' }, { role: 'admin' }, false],
    ['equal to a number (not its string)', { level: '3' }, { level: 3 }, false],
    ['equal to a boolean', { email_verified: true }, { email_verified: true }, true],
    [
      'an array that includes it',
      { groups: ['a', 'admin'] },
      { groups: { includes: 'admin' } },
      true,
    ],
    ['an array that does not', { groups: ['a'] }, { groups: { includes: 'admin' } }, false],
    ['a string with it as a word', { scope: 'read admin' }, { scope: { includes: 'admin' } }, true],
    [
      'a string that contains it inside a word',
      { scope: 'superadmin' },
      { scope: { includes: 'admin' } },
      false,
    ],
    ['a number claim for includes', { groups: 5 }, { groups: { includes: 'admin' } }, false],
    [
      'an object claim for includes',
      { groups: { admin: true } },
      { groups: { includes: 'admin' } },
      false,
    ],
    ['a missing claim', {}, { role: 'admin' }, false],
  ])('a claim %s: %s', async (_name, claims, rule, passes) => {
    const result = await judge(withUser(claims), { claims: rule as GuardOptions['claims'] })
    if (passes) {
      expect(result.session?.sub).toBe('user-1')
    } else {
      expect(result.response?.status).toBe(403)
      expect(JSON.parse(String(result.response?.body))).toMatchObject({
        error: 'insufficient_claims',
      })
    }
  })

  it('does not match a claim inherited from a polluted Object.prototype', async () => {
    const proto = Object.prototype as Record<string, unknown>
    proto.role = 'admin'
    try {
      const result = await judge(withUser({}), { claims: { role: 'admin' } })
      expect(result.response?.status).toBe(403)
    } finally {
      delete proto.role
    }
  })

  it('refuses an empty rule and an empty includes (they would let everyone in)', async () => {
    await expect(judge(withUser({}), { claims: {} })).rejects.toThrow(
      'must be a function or an object of one or more matchers',
    )
    await expect(
      judge(withUser({ scope: 'a  b' }), { claims: { scope: { includes: '' } } }),
    ).rejects.toThrow('"claims.scope" must be a value to equal or { includes: value }')
  })

  it('takes a predicate, which must return true itself (not a truthy value)', async () => {
    const data = withUser({ groups: ['ops'] })
    const yes = await judge(data, { claims: (user) => Array.isArray(user.groups) })
    expect(yes.session).toBeDefined()
    const truthy = await judge(data, { claims: (() => 'yes') as unknown as () => boolean })
    expect(truthy.response?.status).toBe(403)
  })

  it('throws a TypeError naming a malformed matcher (the app’s mistake, not a 403)', async () => {
    await expect(
      judge(withUser({ groups: [] }), {
        claims: { groups: { contains: 'x' } } as unknown as GuardOptions['claims'],
      }),
    ).rejects.toThrow(
      'requireAuth: "claims.groups" must be a value to equal or { includes: value }',
    )
  })
})

describe('step-up', () => {
  it('passes a recent enough authentication with the acr asked', async () => {
    const result = await judge(sessionData({ authTime: epoch() - 100, acr: 'urn:mfa' }), {
      maxAge: 300,
      acr: ['urn:mfa', 'urn:hwk'],
    })
    expect(result.session?.acr).toBe('urn:mfa')
  })

  it.each([
    ['too old (beyond clockTolerance, 30 s)', { authTime: epoch() - 340 }, { maxAge: 300 }],
    ['of unknown age', {}, { maxAge: 300 }],
    ['of another acr', { authTime: epoch(), acr: 'urn:pwd' }, { acr: 'urn:mfa' }],
    ['without an acr', { authTime: epoch() }, { acr: 'urn:mfa' }],
  ])(
    'answers an API call whose authentication is %s with 401 insufficient_user_authentication',
    async (_name, extra, options) => {
      const result = await judge(sessionData(extra), options as GuardOptions)
      expect(result.response?.status).toBe(401)
      expect(JSON.parse(String(result.response?.body))).toMatchObject({
        error: 'insufficient_user_authentication',
      })
      const challenge = result.response?.headers['WWW-Authenticate'] ?? ''
      expect(challenge).toContain('error="insufficient_user_authentication"')
      if ('maxAge' in options) expect(challenge).toContain('max_age="300"')
      if ('acr' in options) expect(challenge).toContain('acr_values="urn:mfa"')
      // the login_url asks for what is missing: following it ends the step-up (no loop)
      const loginUrl = new URL(/login_url="([^"]+)"/.exec(challenge)?.[1] ?? '')
      expect(loginUrl.searchParams.get('returnTo')).toBe('/reports')
      if ('maxAge' in options) expect(loginUrl.searchParams.get('max_age')).toBe('300')
      if ('acr' in options) expect(loginUrl.searchParams.get('acr_values')).toBe('urn:mfa')
    },
  )

  it('allows the clock tolerance past maxAge, as the callback does (no step-up loop)', async () => {
    const result = await judge(sessionData({ authTime: epoch() - 320 }), { maxAge: 300 })
    expect(result.session).toBeDefined()
  })

  it('refuses an acr with a quote or a space (it goes into a header)', async () => {
    await expect(judge(sessionData({ authTime: epoch() }), { acr: 'urn:"x' })).rejects.toThrow(
      'requireAuth: "acr" must be one or more acr values',
    )
  })

  it('answers a prefetch of a page that needs a step-up with 401, starting no login', async () => {
    const auth = testAuth()
    const cookie = await sessionCookie(auth, sessionData({ authTime: epoch() - 4000 }))
    const result = await guard(
      auth,
      context('/payments', {
        headers: { 'sec-fetch-mode': 'navigate', 'sec-purpose': 'prefetch', cookie },
      }),
      { maxAge: 300 },
    )
    expect(result.response?.status).toBe(401)
  })

  it('refuses a maxAge that is not a whole number of seconds', async () => {
    await expect(judge(sessionData({ authTime: epoch() }), { maxAge: -1 })).rejects.toThrow(
      'requireAuth: "maxAge" must be a whole number of seconds',
    )
  })

  it('keeps a session written before auth_time was kept readable (it only needs a step-up)', async () => {
    const data = sessionData({ idToken: fakeIdToken({ sub: 'user-1', auth_time: epoch() }) })
    const result = await judge(data, {})
    expect(result.session?.authTime).toBeUndefined()
  })
})

/**
 * Sessions sealed into cookies: written by the library's session module, read back through
 * `getSession` from a Cookie header as a browser would send it.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { MAX_SET_COOKIE_BYTES } from '../src/adapter.js'
import {
  type AuthLogEvent,
  createMemoryRevocationStore,
  destroySession,
  getSession,
  MissingTransactionError,
  type RevocationStore,
  SessionTooLargeError,
} from '../src/index.js'
import { takeTransaction } from '../src/protocol/transaction.js'
import { parseSeal, type SealFields } from '../src/seal/format.js'
import { seal, type UnsealFailure, unseal } from '../src/seal/seal.js'
import {
  appFor,
  context,
  cookieHeader,
  epoch,
  fakeIdToken,
  SECRET,
  sealKeysOf,
  sessionCookie,
  sessionData,
  settingsOf,
  storeSession,
  testAuth,
} from './support.js'

/** The id of the password that sealed `value`. */
function passwordId(value: string): string {
  return (parseSeal(value) as SealFields).passwordId
}

const OTHER_SECRET = 'another-secret-0123456789abcdefghij'

/** A logger that records what it receives. */
function recorder(): { events: AuthLogEvent[]; logger: (event: AuthLogEvent) => void } {
  const events: AuthLogEvent[] = []
  return { events, logger: (event) => events.push(event) }
}

/** A claim of `size` random (incompressible) characters, to grow the sealed session. */
function bulk(size: number): string {
  return randomBytes(size).toString('base64url').slice(0, size)
}

function withIdToken(claims: Record<string, unknown>) {
  return sessionData({ idToken: fakeIdToken({ sub: 'user-1', ...claims }) })
}

afterEach(() => {
  vi.useRealTimers()
})

describe('a stored session', () => {
  it('reads back with its fields, the user claims and endsAt', async () => {
    const auth = testAuth()
    const data = sessionData()
    const session = await getSession(
      auth,
      context('/', { headers: { cookie: await sessionCookie(auth, data) } }),
    )
    expect(session).toBeDefined()
    expect(session?.id).toBe(data.id)
    expect(session?.sub).toBe('user-1')
    expect(session?.accessToken).toBe('access-token')
    expect(session?.refreshToken).toBe('refresh-token')
    expect(session?.createdAt).toBe(data.createdAt)
    // the idle end (1 day after the last activity) comes before the absolute end (7 days)
    expect(session?.endsAt).toBe(data.updatedAt + 24 * 3600)
    expect(session?.endsAt).toBeLessThan(data.createdAt + settingsOf(auth).absoluteDuration)
    expect(session?.user).toEqual({ sub: 'user-1', email: 'user@example.com', name: 'User One' })
    expect(session).not.toHaveProperty('k')
  })

  it('keeps a __proto__ claim as plain data', async () => {
    const auth = testAuth()
    const idToken = fakeIdToken('{"sub":"user-1","__proto__":{"admin":true},"role":"reader"}')
    const cookie = await sessionCookie(auth, sessionData({ idToken }))
    const session = await getSession(auth, context('/', { headers: { cookie } }))
    expect(session).toBeDefined()
    const user = session!.user as Record<string, unknown>
    expect(user.role).toBe('reader')
    expect(user.admin).toBeUndefined()
    expect(Object.getPrototypeOf(user)).toBe(Object.prototype)
    expect(({} as { admin?: unknown }).admin).toBeUndefined()
  })

  it('sets HttpOnly, SameSite=Lax, Path=/ and the remaining lifetime on http', async () => {
    const auth = testAuth({ session: { idleDuration: false } })
    const ctx = context('/')
    await storeSession(auth, ctx, sessionData())
    expect(ctx.cookies).toHaveLength(1)
    const header = ctx.cookies[0]?.header ?? ''
    expect(header).toMatch(
      /^codeflow=Fe26\.2\*1\*[^;]+; Path=\/; Max-Age=604800; HttpOnly; SameSite=Lax$/,
    )
    expect(header).not.toContain('Secure')
  })

  it('uses Secure and the __Host- prefix on https, for writes and deletions', async () => {
    const auth = testAuth({ baseUrl: 'https://app.example.com' })
    const ctx = context('https://app.example.com/')
    await storeSession(auth, ctx, sessionData())
    expect(ctx.cookies.map((c) => c.name)).toEqual(['__Host-codeflow'])
    expect(ctx.cookies[0]?.header).toMatch(/; Path=\/; .*HttpOnly; Secure; SameSite=Lax$/)

    const cookie = cookieHeader(ctx.cookies)
    const next = context('https://app.example.com/', { headers: { cookie } })
    expect(await getSession(auth, next)).toBeDefined()
    destroySession(auth, next)
    expect(next.cookies.map((c) => c.header)).toEqual([
      '__Host-codeflow=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax',
    ])
  })

  it('destroySession revokes a cookie session: a copy of its cookie is anonymous afterwards', async () => {
    const auth = testAuth({ session: { revocationStore: createMemoryRevocationStore() } })
    const cookie = await sessionCookie(auth)
    const ctx = context('/', { headers: { cookie } })
    const ended = destroySession(auth, ctx)
    // the cookies go at once, before the revocation is recorded
    expect(ctx.cookies.map((c) => [c.name, c.options.maxAge])).toEqual([['codeflow', 0]])
    await ended
    expect(await getSession(auth, context('/', { headers: { cookie } }))).toBeUndefined()
    // another session of the same user lives on
    const other = await sessionCookie(auth)
    expect(await getSession(auth, context('/', { headers: { cookie: other } }))).toBeDefined()
  })

  it('destroySession ends the session in this browser even when the revocation store fails', async () => {
    const { events, logger } = recorder()
    const failing: RevocationStore = {
      ...createMemoryRevocationStore(),
      revoke: async () => {
        throw new Error('revocation store down')
      },
    }
    const auth = testAuth({ logger, session: { revocationStore: failing } })
    const ctx = context('/', { headers: { cookie: await sessionCookie(auth) } })
    await destroySession(auth, ctx)
    expect(ctx.cookies.map((c) => [c.name, c.options.maxAge])).toEqual([['codeflow', 0]])
    expect(events.map((event) => [event.level, event.code])).toContainEqual([
      'warn',
      'session_revocation_failed',
    ])
  })

  it('is seen by a read later in the same request, and its deletion too', async () => {
    const auth = testAuth()
    const ctx = context('/')
    expect(await getSession(auth, ctx)).toBeUndefined()
    await storeSession(auth, ctx, sessionData({ sub: 'fresh' }))
    expect((await getSession(auth, ctx))?.sub).toBe('fresh')
    destroySession(auth, ctx)
    expect(await getSession(auth, ctx)).toBeUndefined()
  })
})

describe('chunked sessions', () => {
  it('splits a large session under 4096 bytes per Set-Cookie and joins it on read', async () => {
    const auth = testAuth({ baseUrl: 'https://app.example.com' })
    const big = bulk(7000)
    const ctx = context('https://app.example.com/')
    await storeSession(auth, ctx, withIdToken({ big }))
    expect(ctx.cookies.map((c) => c.name)).toEqual([
      '__Host-codeflow.0',
      '__Host-codeflow.1',
      '__Host-codeflow.2',
    ])
    for (const cookie of ctx.cookies) {
      expect(Buffer.byteLength(cookie.header)).toBeLessThanOrEqual(MAX_SET_COOKIE_BYTES)
      expect(cookie.header).toContain('; Secure')
    }
    const session = await getSession(
      auth,
      context('https://app.example.com/', { headers: { cookie: cookieHeader(ctx.cookies) } }),
    )
    expect(session?.user.big).toBe(big)
  })

  it('keeps a session too large for its cookies without its ID token and custom claims, and says so', async () => {
    const { events, logger } = recorder()
    const data = withIdToken({ big: bulk(12_000), name: 'User One', email: 'user@example.com' })
    const small = testAuth({ logger })
    const ctx = context('/')
    await storeSession(small, ctx, data)
    expect(ctx.cookies.length).toBeLessThanOrEqual(3)
    const session = await getSession(
      small,
      context('/', { headers: { cookie: cookieHeader(ctx.cookies) } }),
    )
    expect(session?.user).toEqual({ sub: 'user-1', name: 'User One', email: 'user@example.com' })
    expect(session?.idToken).toBeUndefined()
    expect(session?.accessToken).toBe(data.accessToken)
    const trimmed = events.filter((e) => e.code === 'session_trimmed')
    expect(trimmed).toHaveLength(1)
    expect(trimmed[0]?.level).toBe('warn')
    expect(trimmed[0]?.message).toContain('without the ID token and the claims big')
    expect(trimmed[0]?.message).toContain('"session.store"')

    const roomy = testAuth({ session: { maxCookieChunks: 10 } })
    const roomyCtx = context('/')
    await storeSession(roomy, roomyCtx, data)
    expect(roomyCtx.cookies.length).toBeGreaterThan(3)
    expect(roomyCtx.cookies.length).toBeLessThanOrEqual(10)
    const whole = await getSession(
      roomy,
      context('/', { headers: { cookie: cookieHeader(roomyCtx.cookies) } }),
    )
    expect(whole?.user.big).toHaveLength(12_000)
    expect(whole?.idToken).toBe(data.idToken)
  })

  it('throws SessionTooLargeError (502) when even the tokens do not fit, and writes nothing', async () => {
    const data = sessionData({ accessToken: bulk(20_000) })
    const ctx = context('/')
    const error = await storeSession(testAuth(), ctx, data).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SessionTooLargeError)
    expect((error as SessionTooLargeError).code).toBe('session_too_large')
    expect((error as SessionTooLargeError).status).toBe(502)
    expect((error as SessionTooLargeError).message).toContain('server-side store ("session.store"')
    expect(ctx.cookies).toHaveLength(0)
  })

  it('deletes the stale chunks when a session shrinks', async () => {
    const auth = testAuth()
    const large = await sessionCookie(auth, withIdToken({ big: bulk(7000) }))
    expect(large).toMatch(/codeflow\.2=/)

    const ctx = context('/', { headers: { cookie: large } })
    await storeSession(auth, ctx, sessionData({ sub: 'smaller' }))
    const deleted = ctx.cookies.filter((c) => c.options.maxAge === 0).map((c) => c.name)
    expect(deleted.sort()).toEqual(['codeflow.0', 'codeflow.1', 'codeflow.2'])
    const after = cookieHeader(ctx.cookies, large)
    expect(after).not.toMatch(/codeflow\.\d/)
    expect((await getSession(auth, context('/', { headers: { cookie: after } })))?.sub).toBe(
      'smaller',
    )
  })

  it('deletes the whole cookie when a session grows into chunks', async () => {
    const auth = testAuth()
    const small = await sessionCookie(auth)
    const ctx = context('/', { headers: { cookie: small } })
    await storeSession(auth, ctx, withIdToken({ big: bulk(7000) }))
    expect(ctx.cookies.find((c) => c.name === 'codeflow')?.options.maxAge).toBe(0)
    const after = cookieHeader(ctx.cookies, small)
    const session = await getSession(auth, context('/', { headers: { cookie: after } }))
    expect(typeof session?.user.big).toBe('string')
  })

  it('reads a session with a missing middle chunk as anonymous', async () => {
    const auth = testAuth()
    const large = await sessionCookie(auth, withIdToken({ big: bulk(7000) }))
    const cookie = large.replace(/codeflow\.1=[^;]*(; )?/, '')
    expect(cookie).toMatch(/codeflow\.2=/)
    expect(await getSession(auth, context('/', { headers: { cookie } }))).toBeUndefined()
  })

  it('destroySession deletes every chunk', async () => {
    const auth = testAuth()
    const large = await sessionCookie(auth, withIdToken({ big: bulk(7000) }))
    const ctx = context('/', { headers: { cookie: `${large}; other=1` } })
    destroySession(auth, ctx)
    expect(ctx.cookies.map((c) => [c.name, c.options.maxAge])).toEqual([
      ['codeflow.0', 0],
      ['codeflow.1', 0],
      ['codeflow.2', 0],
    ])
  })
})

describe('rejected session cookies', () => {
  async function readWith(cookie: string, secret: string | Record<number, string> = SECRET) {
    const { events, logger } = recorder()
    const auth = testAuth({ secret, logger })
    const session = await getSession(auth, context('/', { headers: { cookie } }))
    return { session, events }
  }

  async function validSeal(): Promise<string> {
    const cookie = await sessionCookie(testAuth())
    return cookie.slice('codeflow='.length)
  }

  it.each([
    [
      'tampered',
      (seal: string) => seal.slice(0, 100) + (seal[100] === 'A' ? 'B' : 'A') + seal.slice(101),
    ],
    ['truncated', (seal: string) => seal.slice(0, seal.length - 10)],
    ['cut in half', (seal: string) => seal.slice(0, seal.length / 2)],
    ['with its MAC replaced', (seal: string) => seal.replace(/\*[^*]+~2$/, '*AAAA~2')],
    ['garbage', () => 'not-a-seal'],
    ['a JWT', () => fakeIdToken({ sub: 'admin' })],
    ['with an unknown password id', (seal: string) => seal.replace('Fe26.2*1*', 'Fe26.2*9*')],
  ])('reads a %s cookie as anonymous and tells the logger', async (_label, alter) => {
    const value = alter(await validSeal())
    const { session, events } = await readWith(`codeflow=${value}`)
    expect(session).toBeUndefined()
    expect(events).toHaveLength(1)
    expect(events[0]?.code).toBe('session_cookie_rejected')
    expect(events[0]?.level).toBe('warn')
    expect(events[0]?.message).not.toContain(value)
  })

  it('reads a cookie sealed with a foreign secret as anonymous', async () => {
    const foreign = await sessionCookie(testAuth({ secret: OTHER_SECRET }))
    const { session, events } = await readWith(foreign)
    expect(session).toBeUndefined()
    expect(events.map((e) => e.code)).toEqual(['session_cookie_rejected'])
  })

  it('stays anonymous when the logger throws', async () => {
    const auth = testAuth({
      logger: () => {
        throw new Error('logger down')
      },
    })
    const ctx = context('/', { headers: { cookie: 'codeflow=garbage' } })
    await expect(getSession(auth, ctx)).resolves.toBeUndefined()
  })

  it('refuses a session seal without the session fields', async () => {
    const value = await seal('session', { sub: 'admin' }, sealKeysOf(testAuth()), 3600)
    const { session, events } = await readWith(`codeflow=${value}`)
    expect(session).toBeUndefined()
    expect(events[0]?.message).toContain('malformed')
  })

  it('refuses a session whose ID token does not decode', async () => {
    const value = await seal(
      'session',
      { ...sessionData({ idToken: 'opaque' }) },
      sealKeysOf(testAuth()),
      3600,
    )
    const { session, events } = await readWith(`codeflow=${value}`)
    expect(session).toBeUndefined()
    expect(events[0]?.code).toBe('session_cookie_rejected')
  })
})

describe('seal kinds', () => {
  const passwords = { 1: SECRET }

  it('never accepts a transaction seal as a session', async () => {
    const transaction = await seal('transaction', { ...sessionData() }, passwords, 600)
    const failures: UnsealFailure[] = []
    expect(
      await unseal('session', transaction, passwords, (reason) => failures.push(reason)),
    ).toBeUndefined()
    expect(failures).toEqual(['wrong-kind'])

    // an app's transaction seal, presented as its session: its key is another (one per purpose)
    const { events, logger } = recorder()
    const auth = testAuth({ logger })
    const appTransaction = await seal(
      'transaction',
      { ...sessionData() },
      sealKeysOf(auth, 'transaction'),
      600,
    )
    const session = await getSession(
      auth,
      context('/', { headers: { cookie: `codeflow=${appTransaction}` } }),
    )
    expect(session).toBeUndefined()
    expect(events[0]?.message).toContain('(invalid)')
    // and with the session's own key, its kind still refuses it
    const forged = await seal('transaction', { ...sessionData() }, sealKeysOf(auth), 600)
    const alsoRefused = await getSession(
      auth,
      context('/', { headers: { cookie: `codeflow=${forged}` } }),
    )
    expect(alsoRefused).toBeUndefined()
    expect(events[1]?.message).toContain('wrong-kind')
  })

  it('never accepts a session seal as a transaction', async () => {
    const state = 'abcdefghijklmnopqrstuv'
    const sessionSeal = await seal('session', { ...sessionData(), state }, passwords, 600)
    const failures: UnsealFailure[] = []
    expect(
      await unseal('transaction', sessionSeal, passwords, (reason) => failures.push(reason)),
    ).toBeUndefined()
    expect(failures).toEqual(['wrong-kind'])

    const auth = testAuth()
    const ctx = context(`/callback?state=${state}`, {
      headers: { cookie: `codeflow_tx.${state}=${sessionSeal}` },
    })
    await expect(takeTransaction(appFor(auth), ctx, state)).rejects.toBeInstanceOf(
      MissingTransactionError,
    )
  })

  it('accepts a seal of the kind asked for', async () => {
    const sealed = await seal('transaction', { state: 's' }, passwords, 600)
    expect(await unseal('transaction', sealed, passwords, () => {})).toMatchObject({ state: 's' })
  })
})

describe('secret rotation', () => {
  it('opens an old seal with the new map and seals anew with the highest id', async () => {
    const old = testAuth({ secret: SECRET })
    const oldCookie = await sessionCookie(old)
    expect(passwordId(oldCookie.slice('codeflow='.length))).toBe('1')

    const rotated = testAuth({ secret: { 1: SECRET, 2: OTHER_SECRET } })
    const ctx = context('/', { headers: { cookie: oldCookie } })
    expect((await getSession(rotated, ctx))?.sub).toBe('user-1')

    const newCookie = await sessionCookie(rotated)
    expect(passwordId(newCookie.slice('codeflow='.length))).toBe('2')
    expect(
      await getSession(rotated, context('/', { headers: { cookie: newCookie } })),
    ).toBeDefined()
    // the old secret alone cannot open what the new one sealed
    expect(await getSession(old, context('/', { headers: { cookie: newCookie } }))).toBeUndefined()
  })

  it('rejects an old seal once its id is dropped from the map', async () => {
    const oldCookie = await sessionCookie(testAuth({ secret: SECRET }))
    const { events, logger } = recorder()
    const retired = testAuth({ secret: { 2: OTHER_SECRET }, logger })
    expect(
      await getSession(retired, context('/', { headers: { cookie: oldCookie } })),
    ).toBeUndefined()
    expect(events[0]?.code).toBe('session_cookie_rejected')
    expect(events[0]?.message).toContain('unknown-password')
  })

  it('rejects a seal whose id is kept but whose secret changed', async () => {
    const oldCookie = await sessionCookie(testAuth({ secret: SECRET }))
    const swapped = testAuth({ secret: { 1: OTHER_SECRET } })
    expect(
      await getSession(swapped, context('/', { headers: { cookie: oldCookie } })),
    ).toBeUndefined()
  })
})

describe('absolute lifetime', () => {
  it('ends the session at createdAt + absoluteDuration, from the seal, before the cookie expires', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2030-01-01T00:00:00Z'))
    const { events, logger } = recorder()
    const auth = testAuth({ session: { absoluteDuration: 3600 }, logger })
    const cookie = await sessionCookie(auth)
    const read = () => getSession(auth, context('/', { headers: { cookie } }))

    vi.setSystemTime(new Date('2030-01-01T00:59:59Z'))
    expect(await read()).toBeDefined()
    // the seal's own expiry allows 60 s of clock skew: only createdAt ends the session here
    vi.setSystemTime(new Date('2030-01-01T01:00:00Z'))
    expect(await read()).toBeUndefined()
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ code: 'session_cookie_rejected', level: 'debug' })
    expect(events[0]?.message).toContain('expired')
  })

  it('applies a shortened absoluteDuration to sessions sealed before', async () => {
    const twoHoursAgo = epoch() - 7200
    const long = testAuth()
    const cookie = await sessionCookie(
      long,
      sessionData({ createdAt: twoHoursAgo, updatedAt: twoHoursAgo }),
    )
    expect(await getSession(long, context('/', { headers: { cookie } }))).toBeDefined()
    const short = testAuth({ session: { absoluteDuration: 3600 } })
    expect(await getSession(short, context('/', { headers: { cookie } }))).toBeUndefined()
  })

  it('refuses a seal whose createdAt is past the lifetime even though the seal is fresh', async () => {
    const auth = testAuth({ session: { absoluteDuration: 60 } })
    const old = epoch() - 120
    const value = await seal(
      'session',
      { ...sessionData({ createdAt: old, updatedAt: epoch() }) },
      sealKeysOf(auth),
      3600,
    )
    expect(
      await getSession(auth, context('/', { headers: { cookie: `codeflow=${value}` } })),
    ).toBeUndefined()
  })
})

/**
 * Server-side sessions and lifetimes in the core: a store keeps the sealed session and the cookie
 * a sealed reference; idle (rolling), absolute and provider lifetimes; rotation reseals.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  createMemoryStore,
  destroySession,
  getSession,
  type RevocationQuery,
  type RevocationStore,
  type SessionStore,
  SessionStoreError,
} from '../src/index.js'
import { seal } from '../src/seal/seal.js'
import { writeStored } from '../src/session/stored.js'
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

/** A memory store that records what it was given. */
function recordingStore(): SessionStore & { values: Map<string, string> } {
  const inner = createMemoryStore()
  const values = new Map<string, string>()
  return {
    values,
    get: (id) => inner.get(id),
    async set(id, value, ttl) {
      values.set(id, value)
      await inner.set(id, value, ttl)
    },
    async delete(id) {
      values.delete(id)
      await inner.delete(id)
    },
  }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('a session in a server-side store', () => {
  it('keeps only a small sealed reference in the cookie and the sealed data in the store', async () => {
    const store = recordingStore()
    const auth = testAuth({ session: { store } })
    const cookie = await sessionCookie(auth, sessionData({ id: 'id-1' }))
    // the reference, and what the revocation store is asked (sub, login time): no claims, no tokens
    expect(cookie.length).toBeLessThan(400)
    expect(cookie).not.toContain('access-token')
    const stored = store.values.get('id-1') as string
    expect(stored.startsWith('Fe26.2*')).toBe(true)
    expect(stored).not.toContain('access-token')
    const session = await getSession(auth, context('/', { headers: { cookie } }))
    expect(session?.accessToken).toBe('access-token')
    expect(session?.user.email).toBe('user@example.com')
  })

  it('is gone once destroyed: a copied cookie is dead', async () => {
    const store = recordingStore()
    const auth = testAuth({ session: { store } })
    const cookie = await sessionCookie(auth, sessionData({ id: 'id-2' }))
    await destroySession(auth, context('/', { headers: { cookie } }))
    expect(store.values.has('id-2')).toBe(false)
    expect(await getSession(auth, context('/', { headers: { cookie } }))).toBeUndefined()
  })

  it('refuses a cookie-held session while a store is configured, and a reference without one', async () => {
    const cookieOnly = await sessionCookie(testAuth())
    const withStore = testAuth({ session: { store: createMemoryStore() } })
    expect(
      await getSession(withStore, context('/', { headers: { cookie: cookieOnly } })),
    ).toBeUndefined()
    const reference = await sessionCookie(withStore)
    expect(
      await getSession(testAuth(), context('/', { headers: { cookie: reference } })),
    ).toBeUndefined()
  })

  it('fails with SessionStoreError (503) when the store fails, never anonymous', async () => {
    const store = createMemoryStore()
    const auth = testAuth({ session: { store } })
    const cookie = await sessionCookie(auth)
    const broken = testAuth({
      session: {
        store: {
          get: () => Promise.reject(new SessionStoreError()),
          set: () => Promise.reject(new SessionStoreError()),
          delete: () => Promise.reject(new SessionStoreError()),
        },
      },
    })
    const error = await getSession(broken, context('/', { headers: { cookie } })).catch(
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(SessionStoreError)
    expect((error as SessionStoreError).status).toBe(503)
  })
})

describe('lifetimes', () => {
  it('ends an idle session and extends an active one (rolling)', async () => {
    vi.useFakeTimers()
    const auth = testAuth({ session: { idleDuration: 100 } })
    let cookie = await sessionCookie(auth)
    // activity every 60 s keeps it alive past 100 s
    for (let i = 0; i < 4; i++) {
      vi.advanceTimersByTime(60_000)
      const ctx = context('/', { headers: { cookie } })
      expect(await getSession(auth, ctx)).toBeDefined()
      cookie = cookieHeader(ctx.cookies, cookie)
    }
    vi.advanceTimersByTime(101_000)
    expect(await getSession(auth, context('/', { headers: { cookie } }))).toBeUndefined()
  })

  it('writes activity at most every twentieth of the idle time', async () => {
    vi.useFakeTimers()
    const auth = testAuth({ session: { idleDuration: 200 } })
    const cookie = await sessionCookie(auth)
    vi.advanceTimersByTime(5_000)
    const quiet = context('/', { headers: { cookie } })
    await getSession(auth, quiet)
    expect(quiet.cookies).toHaveLength(0)
    vi.advanceTimersByTime(6_000)
    const touched = context('/', { headers: { cookie } })
    await getSession(auth, touched)
    expect(touched.cookies).toHaveLength(1)
  })

  it('ends a session at its absolute lifetime despite activity', async () => {
    vi.useFakeTimers()
    const auth = testAuth({ session: { absoluteDuration: 300, idleDuration: 100 } })
    let cookie = await sessionCookie(auth)
    for (let i = 0; i < 4; i++) {
      vi.advanceTimersByTime(60_000)
      const ctx = context('/', { headers: { cookie } })
      expect(await getSession(auth, ctx)).toBeDefined()
      cookie = cookieHeader(ctx.cookies, cookie)
    }
    vi.advanceTimersByTime(61_000)
    expect(await getSession(auth, context('/', { headers: { cookie } }))).toBeUndefined()
  })

  it('is capped by the provider session_expiry claim', async () => {
    const auth = testAuth({ session: { idleDuration: false } })
    const now = epoch()
    const idToken = fakeIdToken({ sub: 'user-1', session_expiry: now + 50 })
    const session = await getSession(
      auth,
      context('/', { headers: { cookie: await sessionCookie(auth, sessionData({ idToken })) } }),
    )
    expect(session?.endsAt).toBe(now + 50)
    const ended = fakeIdToken({ sub: 'user-1', session_expiry: now - 1 })
    const cookie = await sessionCookie(auth, sessionData({ idToken: ended }))
    expect(await getSession(auth, context('/', { headers: { cookie } }))).toBeUndefined()
  })

  it('writes a browser-session cookie when not persistent', async () => {
    const auth = testAuth({ session: { persistent: false } })
    const ctx = context('/')
    await storeSession(auth, ctx, sessionData())
    expect(ctx.cookies[0]?.header).not.toMatch(/Max-Age|Expires/)
  })
})

describe('secret rotation', () => {
  it.each([
    ['cookie', () => ({})],
    ['store', () => ({ session: { store: createMemoryStore() } })],
  ])(
    'reseals a %s session sealed with a retired password, then refuses it once removed',
    async (_name, extra) => {
      const options = extra()
      const old = testAuth({ ...options })
      const cookie = await sessionCookie(old)
      const newer = 'a-newer-secret-of-at-least-32-characters'
      const rotated = testAuth({ ...options, secret: { 1: SECRET, 2: newer } })
      const ctx = context('/', { headers: { cookie } })
      expect(await getSession(rotated, ctx)).toBeDefined()
      expect(ctx.cookies.some((c) => c.value.startsWith('Fe26.2*2*'))).toBe(true)
      const resealed = cookieHeader(ctx.cookies, cookie)
      const retired = testAuth({ ...options, secret: { 2: newer } })
      expect(
        await getSession(retired, context('/', { headers: { cookie: resealed } })),
      ).toBeDefined()
      expect(await getSession(retired, context('/', { headers: { cookie } }))).toBeUndefined()
    },
  )
})

describe('beforeSessionSaved', () => {
  it('is validated as a function', async () => {
    expect(() => testAuth({ beforeSessionSaved: 'no' as never })).toThrow(/beforeSessionSaved/)
  })
})

describe('the revocation check beside the store read', () => {
  /** A store whose reads wait for `open()`, and a revocation store that records what it is asked. */
  function gated() {
    const inner = createMemoryStore()
    let open: () => void = () => undefined
    let gate = Promise.resolve()
    const events: string[] = []
    const store: SessionStore = {
      async get(id, owner) {
        events.push(`get ${owner?.sub ?? '-'}`)
        await gate
        events.push('got')
        return inner.get(id)
      },
      set: (id, value, ttl) => inner.set(id, value, ttl),
      delete: (id) => inner.delete(id),
    }
    const asked: RevocationQuery[] = []
    const revoked = new Set<string>()
    const revocationStore: RevocationStore = {
      async revoke(revocation) {
        if (revocation.sid !== undefined) revoked.add(revocation.sid)
      },
      async isRevoked(query) {
        events.push('isRevoked')
        asked.push(query)
        return query.sid !== undefined && revoked.has(query.sid)
      },
      async recordJti() {
        return true
      },
    }
    return {
      store,
      revocationStore,
      events,
      asked,
      inner,
      close() {
        gate = new Promise((resolve) => {
          open = resolve
        })
      },
      open: () => open(),
    }
  }

  it('asks the revocation store while the store read is in flight, once per read', async () => {
    const stores = gated()
    const auth = testAuth({
      session: { store: stores.store, revocationStore: stores.revocationStore },
    })
    const data = sessionData({ iss: settingsOf(auth).issuer.href, id: 'early-1' })
    const cookie = await sessionCookie(auth, data)
    stores.close()
    const read = getSession(auth, context('/', { headers: { cookie } }))
    await new Promise((resolve) => setTimeout(resolve, 10))
    // both went out before either answered: one round trip
    expect(stores.events).toEqual(['isRevoked', 'get user-1'])
    stores.open()
    expect((await read)?.id).toBe('early-1')
    expect(stores.events).toEqual(['isRevoked', 'get user-1', 'got'])
    expect(stores.asked).toEqual([
      { id: 'early-1', iss: data.iss, sub: 'user-1', sid: 'op-session', createdAt: data.createdAt },
    ])
  })

  it('a session revoked by its provider session reads as anonymous, and its stored data goes', async () => {
    const stores = gated()
    const auth = testAuth({
      session: { store: stores.store, revocationStore: stores.revocationStore },
    })
    const cookie = await sessionCookie(
      auth,
      sessionData({ iss: settingsOf(auth).issuer.href, id: 'early-2' }),
    )
    await stores.revocationStore.revoke({ iss: 'x', sid: 'op-session' }, 60)
    expect(await getSession(auth, context('/', { headers: { cookie } }))).toBeUndefined()
    expect(await stores.inner.get('early-2')).toBeUndefined()
  })

  it('asks again when the stored session has changed since the reference was sealed', async () => {
    const stores = gated()
    const auth = testAuth({
      session: { store: stores.store, revocationStore: stores.revocationStore },
    })
    const data = sessionData({ iss: settingsOf(auth).issuer.href, id: 'early-3' })
    const cookie = await sessionCookie(auth, data)
    // another instance refreshed it, and the provider's new ID token names another sid
    await writeStored(appFor(auth), { ...data, sid: 'op-session-2' })
    await stores.revocationStore.revoke({ iss: data.iss, sid: 'op-session-2' }, 60)
    expect(await getSession(auth, context('/', { headers: { cookie } }))).toBeUndefined()
    expect(stores.asked.map((query) => query.sid)).toEqual(['op-session', 'op-session-2'])
  })

  it("gives the store the session's owner, its issuer and user and nothing else", async () => {
    const owners: unknown[] = []
    const inner = createMemoryStore()
    const store: SessionStore = {
      get: (id, owner) => {
        owners.push(owner)
        return inner.get(id)
      },
      set: (id, value, ttl, owner) => {
        owners.push(owner)
        return inner.set(id, value, ttl)
      },
      delete: (id, owner) => {
        owners.push(owner)
        return inner.delete(id)
      },
    }
    const auth = testAuth({ session: { store } })
    const data = sessionData({ iss: settingsOf(auth).issuer.href, id: 'owned-1' })
    const cookie = await sessionCookie(auth, data)
    expect((await getSession(auth, context('/', { headers: { cookie } })))?.id).toBe('owned-1')
    await destroySession(auth, context('/', { headers: { cookie } }))
    expect(owners).toHaveLength(3)
    for (const owner of owners) expect(owner).toEqual({ iss: data.iss, sub: 'user-1' })
  })

  it('reads a reference sealed before references carried the query, checking after the read', async () => {
    const stores = gated()
    const auth = testAuth({
      session: { store: stores.store, revocationStore: stores.revocationStore },
    })
    const data = sessionData({ iss: settingsOf(auth).issuer.href, id: 'early-4' })
    await writeStored(appFor(auth), data)
    const keys = sealKeysOf(auth)
    const old = await seal('session', { ref: 'early-4' }, keys, 3600)
    const session = await getSession(auth, context('/', { headers: { cookie: `codeflow=${old}` } }))
    expect(session?.id).toBe('early-4')
    expect(stores.events).toEqual(['get -', 'got', 'isRevoked'])
  })
})

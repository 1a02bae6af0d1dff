/**
 * Logout revocations: the memory store (by session id, provider session and user; jti replay
 * memory; expiry and bound), the per-app default shared by every `createAuth` of one app in a
 * process, and the check every session read makes (cookie sessions and a server-side store).
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  type AuthLogEvent,
  ConfigurationError,
  createAuth,
  createMemoryRevocationStore,
  createMemoryStore,
  getSession,
  type RevocationStore,
  SessionStoreError,
} from '../src/index.js'
import { randomId } from '../src/random.js'
import {
  appFor,
  context,
  epoch,
  sessionCookie,
  sessionData,
  testAuth,
  validOptions,
} from './support.js'

const ISS = 'https://op.example.com'

afterEach(() => {
  vi.useRealTimers()
})

function query(overrides: Partial<{ id: string; sub: string; sid: string; createdAt: number }>) {
  return { id: randomId(), iss: ISS, sub: 'user-1', sid: 'op-1', createdAt: epoch(), ...overrides }
}

describe('createMemoryRevocationStore', () => {
  it('revokes every session of a provider session (sid), whenever it began', async () => {
    const store = createMemoryRevocationStore()
    await store.revoke({ iss: ISS, sid: 'op-1' }, 60)
    expect(await store.isRevoked(query({ sid: 'op-1' }))).toBe(true)
    expect(await store.isRevoked(query({ sid: 'op-1', createdAt: epoch() + 100 }))).toBe(true)
    expect(await store.isRevoked(query({ sid: 'op-2' }))).toBe(false)
    expect(await store.isRevoked({ ...query({ sid: 'op-1' }), iss: 'https://other.example' })).toBe(
      false,
    )
  })

  it('revokes the sessions of a user (sub) that began at or before the logout, not later ones', async () => {
    const store = createMemoryRevocationStore()
    const now = epoch()
    await store.revoke({ iss: ISS, sub: 'user-1', before: now }, 60)
    expect(await store.isRevoked(query({ createdAt: now - 10 }))).toBe(true)
    expect(await store.isRevoked(query({ createdAt: now }))).toBe(true)
    expect(await store.isRevoked(query({ createdAt: now + 1 }))).toBe(false)
    expect(await store.isRevoked(query({ sub: 'user-2', createdAt: now - 10 }))).toBe(false)
    // a later logout of the user covers more; an older one arriving late does not shrink it
    await store.revoke({ iss: ISS, sub: 'user-1', before: now + 5 }, 60)
    await store.revoke({ iss: ISS, sub: 'user-1', before: now - 100 }, 60)
    expect(await store.isRevoked(query({ createdAt: now + 5 }))).toBe(true)
  })

  it('revokes one session by its id (a local logout of a cookie session)', async () => {
    const store = createMemoryRevocationStore()
    const id = randomId()
    await store.revoke({ iss: ISS, id }, 60)
    expect(await store.isRevoked(query({ id }))).toBe(true)
    expect(await store.isRevoked(query({}))).toBe(false)
  })

  it('forgets revocations after their TTL', async () => {
    vi.useFakeTimers({ now: Date.now() })
    const store = createMemoryRevocationStore()
    await store.revoke({ iss: ISS, sid: 'op-1' }, 10)
    vi.advanceTimersByTime(9_000)
    expect(await store.isRevoked(query({ sid: 'op-1' }))).toBe(true)
    vi.advanceTimersByTime(2_000)
    expect(await store.isRevoked(query({ sid: 'op-1' }))).toBe(false)
  })

  it('records a jti once: a replay is refused until the TTL has passed', async () => {
    vi.useFakeTimers({ now: Date.now() })
    const store = createMemoryRevocationStore()
    expect(await store.recordJti(ISS, 'jti-1', 5)).toBe(true)
    expect(await store.recordJti(ISS, 'jti-1', 5)).toBe(false)
    expect(await store.recordJti('https://other.example', 'jti-1', 5)).toBe(true)
    vi.advanceTimersByTime(6_000)
    expect(await store.recordJti(ISS, 'jti-1', 5)).toBe(true)
  })

  it('is bounded: past maxEntries the oldest revocations are forgotten first', async () => {
    const store = createMemoryRevocationStore({ maxEntries: 3 })
    for (const sid of ['a', 'b', 'c', 'd']) await store.revoke({ iss: ISS, sid }, 60)
    expect(await store.isRevoked(query({ sid: 'a' }))).toBe(false)
    for (const sid of ['b', 'c', 'd']) expect(await store.isRevoked(query({ sid }))).toBe(true)
    for (const jti of ['1', '2', '3', '4']) await store.recordJti(ISS, jti, 60)
    expect(await store.recordJti(ISS, '1', 60)).toBe(true)
    expect(await store.recordJti(ISS, '4', 60)).toBe(false)
  })

  it('validates maxEntries', () => {
    expect(() => createMemoryRevocationStore({ maxEntries: 0 })).toThrow(/maxEntries/)
  })
})

describe('the default revocation store', () => {
  it('is one per app in this process, shared by every createAuth of it (Next.js loads modules twice)', async () => {
    const baseUrl = `http://localhost:${4000 + Math.floor(Math.random() * 1000)}`
    const first = createAuth(validOptions({ baseUrl }))
    const second = createAuth(validOptions({ baseUrl }))
    const otherApp = createAuth(validOptions({ baseUrl: `${baseUrl}/other` }))
    expect(appFor(second).revocations).toBe(appFor(first).revocations)
    expect(appFor(otherApp).revocations).not.toBe(appFor(first).revocations)
  })

  it('is replaced by session.revocationStore, which is validated', () => {
    const store = createMemoryRevocationStore()
    expect(appFor(testAuth({ session: { revocationStore: store } })).revocations).toBe(store)
    const error = (() => {
      try {
        testAuth({ session: { revocationStore: { revoke: () => undefined } as never } })
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(ConfigurationError)
    expect((error as ConfigurationError).option).toBe('session.revocationStore')
  })
})

describe('every session read checks the revocations', () => {
  /** A store that counts lookups. */
  function countingStore(): RevocationStore & { lookups: number } {
    const inner = createMemoryRevocationStore()
    const store = {
      lookups: 0,
      revoke: inner.revoke,
      recordJti: inner.recordJti,
      isRevoked(session: Parameters<RevocationStore['isRevoked']>[0]) {
        store.lookups++
        return inner.isRevoked(session)
      },
    }
    return store
  }

  it('reads a session revoked by sid, by sub or by id as anonymous, with one lookup per request', async () => {
    const revocationStore = countingStore()
    const events: AuthLogEvent[] = []
    const auth = testAuth({ session: { revocationStore }, logger: (e) => events.push(e) })
    const bySid = await sessionCookie(auth, sessionData({ sid: 'op-bcl' }))
    const bySub = await sessionCookie(auth, sessionData({ sub: 'user-bcl', sid: undefined }))
    const byId = sessionData()
    const byIdCookie = await sessionCookie(auth, byId)
    const kept = await sessionCookie(auth, sessionData({ sid: 'op-kept' }))
    const read = (cookie: string) => getSession(auth, context('/', { headers: { cookie } }))

    const ctx = context('/', { headers: { cookie: bySid } })
    expect(await getSession(auth, ctx)).toBeDefined()
    expect(await getSession(auth, ctx)).toBeDefined()
    expect(revocationStore.lookups).toBe(1)

    await revocationStore.revoke({ iss: ISS, sid: 'op-bcl' }, 60)
    await revocationStore.revoke({ iss: ISS, sub: 'user-bcl', before: epoch() }, 60)
    await revocationStore.revoke({ iss: ISS, id: byId.id }, 60)
    expect(await read(bySid)).toBeUndefined()
    expect(await read(bySub)).toBeUndefined()
    expect(await read(byIdCookie)).toBeUndefined()
    expect(await read(kept)).toBeDefined()
    expect(events.filter((e) => e.code === 'session_revoked')).toHaveLength(3)
  })

  it('deletes the data of a revoked session from the server-side store', async () => {
    const store = createMemoryStore()
    const revocationStore = createMemoryRevocationStore()
    const auth = testAuth({ session: { store, revocationStore } })
    const data = sessionData({ sid: 'op-stored' })
    const cookie = await sessionCookie(auth, data)
    expect(await store.get(data.id)).toBeDefined()
    await revocationStore.revoke({ iss: ISS, sid: 'op-stored' }, 60)
    expect(await getSession(auth, context('/', { headers: { cookie } }))).toBeUndefined()
    expect(await store.get(data.id)).toBeUndefined()
  })

  it('answers 503 (SessionStoreError) when the revocation store fails, never a session', async () => {
    const failing: RevocationStore = {
      revoke: async () => undefined,
      recordJti: async () => true,
      isRevoked: async () => {
        throw new Error('connection refused')
      },
    }
    const auth = testAuth({ session: { revocationStore: failing } })
    const cookie = await sessionCookie(auth)
    const error = await getSession(auth, context('/', { headers: { cookie } })).catch(
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(SessionStoreError)
    expect((error as SessionStoreError).status).toBe(503)
  })
})

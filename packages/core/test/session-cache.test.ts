/**
 * The cache of unsealed sessions (issue 9): a hit skips the unseal and nothing else. Lifetimes,
 * revocation and the store are still checked on every read; the cache has a hard cap; a tampered
 * value or a retired password never hits.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createMemoryStore, getSession } from '../src/index.js'
import * as sealModule from '../src/seal/seal.js'
import { SESSION_CACHE_MAX, SessionCache } from '../src/session/cache.js'
import {
  appFor,
  context,
  epoch,
  SECRET,
  sealKeysOf,
  sessionCookie,
  sessionData,
  testAuth,
} from './support.js'

vi.mock('../src/seal/seal.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/seal/seal.js')>()
  return { ...original, unseal: vi.fn(original.unseal) }
})

const unsealCalls = () => vi.mocked(sealModule.unseal).mock.calls.length

afterEach(() => {
  vi.useRealTimers()
  vi.mocked(sealModule.unseal).mockClear()
})

/** The cookie's value, from a `name=value` Cookie header. */
function cookieValue(cookie: string): string {
  return cookie.slice(cookie.indexOf('=') + 1)
}

describe('the session cache', () => {
  it('unseals a cookie once; later requests with the same cookie skip the unseal', async () => {
    const cookie = await sessionCookie(testAuth())
    // another Auth (same secret): its cache is its own, so its first read unseals
    const reader = testAuth()
    const read = () => getSession(reader, context('/', { headers: { cookie } }))
    const first = await read()
    expect(first?.sub).toBe('user-1')
    expect(unsealCalls()).toBe(1)
    for (let i = 0; i < 5; i++) expect(await read()).toEqual(first)
    expect(unsealCalls()).toBe(1)
  })

  it('remembers what the app itself just sealed: the next request does not unseal', async () => {
    const auth = testAuth()
    const cookie = await sessionCookie(auth)
    expect((await getSession(auth, context('/', { headers: { cookie } })))?.sub).toBe('user-1')
    expect(unsealCalls()).toBe(0)
  })

  it('gives each request its own user object', async () => {
    const auth = testAuth()
    const cookie = await sessionCookie(auth)
    const a = await getSession(auth, context('/', { headers: { cookie } }))
    ;(a?.user as Record<string, unknown>).extra = 'changed by one request'
    const b = await getSession(auth, context('/', { headers: { cookie } }))
    expect(b?.user.extra).toBeUndefined()
  })

  it('enforces the absolute lifetime on a hit', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2030-01-01T00:00:00Z'))
    // sealed for a day; the reader's sessions last an hour
    const cookie = await sessionCookie(testAuth({ session: { absoluteDuration: 86_400 } }))
    const reader = testAuth({ session: { absoluteDuration: 3600, idleDuration: false } })
    const read = () => getSession(reader, context('/', { headers: { cookie } }))
    expect(await read()).toBeDefined()
    vi.setSystemTime(new Date('2030-01-01T00:59:59Z'))
    expect(await read()).toBeDefined()
    vi.setSystemTime(new Date('2030-01-01T01:00:00Z'))
    expect(await read()).toBeUndefined()
    expect(unsealCalls()).toBe(1)
  })

  it('enforces the idle lifetime and the provider session expiry on a hit', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2030-01-01T00:00:00Z'))
    const now = epoch()
    const cookie = await sessionCookie(
      testAuth({ session: { idleDuration: false } }),
      sessionData({ user: { sub: 'user-1', session_expiry: now + 120 }, idToken: undefined }),
    )
    const idle = testAuth({ session: { idleDuration: 60 } })
    const noIdle = testAuth({ session: { idleDuration: false } })
    const read = (auth: typeof idle) => getSession(auth, context('/', { headers: { cookie } }))
    expect(await read(idle)).toBeDefined()
    expect(await read(noIdle)).toBeDefined()
    vi.setSystemTime(new Date('2030-01-01T00:01:00Z'))
    expect(await read(idle)).toBeUndefined()
    expect(await read(noIdle)).toBeDefined()
    expect(unsealCalls()).toBe(2)
    // the provider's end is also the seal's own expiry here: the entry is dropped, then refused
    vi.setSystemTime(new Date('2030-01-01T00:02:00Z'))
    expect(await read(noIdle)).toBeUndefined()
  })

  it('enforces the seal expiry on a hit', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const cache = new SessionCache(10)
    const passwords = { 1: SECRET }
    const value = fakeSeal('1', Date.now() + 1000)
    cache.set(value, { k: 'session' }, passwords)
    expect(cache.get(value, passwords)).toBeDefined()
    vi.setSystemTime(Date.now() + 1000)
    expect(cache.get(value, passwords)).toBeUndefined()
    expect(cache.size).toBe(0)
  })

  it('enforces revocation on a hit, without unsealing again', async () => {
    const auth = testAuth()
    const data = sessionData()
    const cookie = await sessionCookie(auth, data)
    const read = () => getSession(auth, context('/', { headers: { cookie } }))
    expect(await read()).toBeDefined()
    await appFor(auth).revocations.revoke({ iss: data.iss, id: data.id }, 3600)
    expect(await read()).toBeUndefined()
    expect(unsealCalls()).toBe(0)
  })

  it('reads the store on every request: a session ended elsewhere is gone on a hit', async () => {
    const store = createMemoryStore()
    const get = vi.spyOn(store, 'get')
    const auth = testAuth({ session: { store } })
    const data = sessionData()
    const cookie = await sessionCookie(auth, data)
    const read = () => getSession(auth, context('/', { headers: { cookie } }))
    expect(await read()).toBeDefined()
    expect(await read()).toBeDefined()
    expect(get).toHaveBeenCalledTimes(2)
    expect(unsealCalls()).toBe(0)
    // another instance logged out: it deleted the value
    await store.delete(data.id)
    expect(await read()).toBeUndefined()
    expect(get).toHaveBeenCalledTimes(3)
  })

  it('never hits for a tampered cookie', async () => {
    const auth = testAuth()
    const cookie = await sessionCookie(auth)
    const name = cookie.slice(0, cookie.indexOf('='))
    const value = cookieValue(cookie)
    expect(appFor(auth).sessions.get(value, sealKeysOf(auth))).toBeDefined()
    const flip = (at: number) =>
      value.slice(0, at) + (value[at] === 'A' ? 'B' : 'A') + value.slice(at + 1)
    const seal = value.slice(0, value.lastIndexOf('~'))
    const version = value.slice(value.lastIndexOf('~'))
    const tamperedValues = [
      flip(value.indexOf('*', 10) + 3),
      flip(Math.floor(value.length / 2)),
      flip(seal.length - 2),
      `${seal.slice(0, -1)}${version}`,
      `${seal}A${version}`,
    ]
    for (const tampered of tamperedValues) {
      const header = `${name}=${tampered}`
      expect(await getSession(auth, context('/', { headers: { cookie: header } }))).toBeUndefined()
      expect(appFor(auth).sessions.get(tampered, sealKeysOf(auth))).toBeUndefined()
    }
    expect(unsealCalls()).toBe(5)
  })

  it('never hits for a seal whose password was removed or replaced', () => {
    const cache = new SessionCache(10)
    const value = fakeSeal('1', Date.now() + 60_000)
    cache.set(value, { k: 'session' }, { 1: SECRET })
    expect(cache.get(value, { 2: SECRET })).toBeUndefined()
    cache.set(value, { k: 'session' }, { 1: SECRET })
    expect(cache.get(value, { 1: `${SECRET}-other` })).toBeUndefined()
    cache.set(value, { k: 'session' }, { 1: SECRET })
    expect(cache.get(value, { 1: SECRET, 2: `${SECRET}-newer` })).toBeDefined()
  })

  it('is per app: another configuration unseals for itself', async () => {
    const auth = testAuth()
    const cookie = await sessionCookie(auth)
    const other = testAuth({ secret: { 2: `${SECRET}-other` } })
    expect(await getSession(other, context('/', { headers: { cookie } }))).toBeUndefined()
    expect(unsealCalls()).toBe(1)
  })

  it('holds its hard cap, dropping the least recently used', () => {
    const cache = new SessionCache(3)
    const passwords = { 1: SECRET }
    const values = [1, 2, 3, 4, 5].map((n) => fakeSeal('1', Date.now() + 60_000, n))
    for (const value of values.slice(0, 3)) cache.set(value, { k: 'session' }, passwords)
    expect(cache.get(values[0] as string, passwords)).toBeDefined()
    for (const value of values.slice(3)) cache.set(value, { k: 'session' }, passwords)
    expect(cache.size).toBe(3)
    expect(cache.get(values[0] as string, passwords)).toBeDefined()
    expect(cache.get(values[1] as string, passwords)).toBeUndefined()
    expect(cache.get(values[2] as string, passwords)).toBeUndefined()
  })

  it('caps the cache of an app at SESSION_CACHE_MAX', () => {
    const auth = testAuth()
    const cache = appFor(auth).sessions
    for (let n = 0; n < SESSION_CACHE_MAX + 100; n++) {
      cache.set(fakeSeal('1', Date.now() + 60_000, n), { k: 'session' }, sealKeysOf(auth))
    }
    expect(cache.size).toBe(SESSION_CACHE_MAX)
  })
})

/** A string shaped like an iron seal (the cache reads only its password id and expiry). */
function fakeSeal(passwordId: string, expires: number, n = 0): string {
  return `Fe26.2*${passwordId}*salt*iv*data${n}*${expires}*hmacsalt*mac${n}~2`
}

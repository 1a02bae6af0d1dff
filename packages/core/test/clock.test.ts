/**
 * The `clock` option: every time-based decision of the core reads it, so tests move time on
 * without sleeping and without touching the process's own clock.
 */
import { describe, expect, it } from 'vitest'
import { ConfigurationError, getSession, MissingTransactionError } from '../src/index.js'
import { startTransaction, takeTransaction } from '../src/protocol/transaction.js'
import { appFor, context, cookieHeader, sessionCookie, sessionData, testAuth } from './support.js'

/** A clock that starts at the real time and moves only when told. */
function manualClock() {
  let now = Date.now()
  return {
    clock: () => now,
    advance(seconds: number) {
      now += seconds * 1000
    },
    epoch: () => Math.floor(now / 1000),
  }
}

describe('the clock option', () => {
  it('must be a function', () => {
    expect(() => testAuth({ clock: 5 as never })).toThrow(ConfigurationError)
    expect(() => testAuth({ clock: 5 as never })).toThrow(/"clock" must be a function/)
  })

  it('ends an idle session by the clock, not by the system time', async () => {
    const time = manualClock()
    const auth = testAuth({ clock: time.clock, session: { idleDuration: 60 } })
    const data = sessionData({ createdAt: time.epoch(), updatedAt: time.epoch() })
    const cookie = await sessionCookie(auth, data)
    time.advance(59)
    expect(await getSession(auth, context('/', { headers: { cookie } }))).toBeDefined()
    time.advance(1)
    expect(await getSession(auth, context('/', { headers: { cookie } }))).toBeUndefined()
  })

  it('records rolling activity at the clock’s time', async () => {
    const time = manualClock()
    const auth = testAuth({ clock: time.clock, session: { idleDuration: 100 } })
    const cookie = await sessionCookie(
      auth,
      sessionData({ createdAt: time.epoch(), updatedAt: time.epoch() }),
    )
    time.advance(90)
    const ctx = context('/', { headers: { cookie } })
    const session = await getSession(auth, ctx)
    expect(session?.updatedAt).toBe(time.epoch())
    expect(session?.endsAt).toBe(time.epoch() + 100)
    // the touched cookie lives on past the first idle end
    time.advance(90)
    const touched = cookieHeader(ctx.cookies, cookie)
    expect(await getSession(auth, context('/', { headers: { cookie: touched } }))).toBeDefined()
  })

  it('refuses a login transaction older than transactionTtl by the clock', async () => {
    const time = manualClock()
    const auth = testAuth({ clock: time.clock, transactionTtl: 600 })
    const state = 'state-of-a-login-0123456789'
    const start = context('/login')
    const transaction = {
      state,
      nonce: 'nonce',
      codeVerifier: 'verifier',
      returnTo: 'http://localhost:3000/',
      iat: time.epoch(),
    }
    await startTransaction(appFor(auth), start, transaction)
    const cookie = cookieHeader(start.cookies)
    time.advance(599)
    const early = context('/callback', { headers: { cookie } })
    await expect(takeTransaction(appFor(auth), early, state)).resolves.toMatchObject({ state })
    time.advance(1)
    const late = context('/callback', { headers: { cookie } })
    await expect(takeTransaction(appFor(auth), late, state)).rejects.toBeInstanceOf(
      MissingTransactionError,
    )
  })
})

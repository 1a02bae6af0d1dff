/**
 * Ending this browser's session: the one way every logout, `destroySession`, a front-channel
 * logout and a new login end it.
 */
import { type App, type Auth, appOf } from '../auth.js'
import { epoch } from '../clock.js'
import { AuthError, SessionStoreError } from '../errors.js'
import type { HttpContext } from '../http/context.js'
import { requestState } from '../http/jar.js'
import { UNREAD } from '../http/request-state.js'
import { chain, type MaybePromise, promised } from '../maybe.js'
import type { CachedSeal } from './cache.js'
import { referenceQuery } from './revoked.js'
import { unsealSession } from './sealed.js'
import { ownerOf } from './store.js'
import type { SessionData } from './types.js'
import { isSessionData, viewOf } from './view.js'
import { writeSession } from './write.js'

const ignore = () => undefined

/**
 * How a session ends. `signed-out` (a logout, `destroySession`): a cookie session's id is revoked
 * too, so that a copy of the cookie is dead. `dropped` (a new login in its place, a refresh the
 * provider refused, a front-channel logout): it leaves this browser and the store only; a copy is
 * refused all the same (the provider refuses its refresh token; the provider session's revocation
 * ends it).
 */
export type SessionEnd = 'signed-out' | 'dropped'

/**
 * Ends the request's session, always in this order: its cookies are deleted at once (before the
 * promise settles, whatever follows), then its server-side life ends: the store's data is deleted
 * (a store that fails rejects: a 503, since a copy of the cookie would still work), and for a
 * `signed-out` cookie session its id is revoked (a revocation store that fails is reported as
 * `session_revocation_failed`: the browser's session is ended all the same). What ends is what
 * the cookie holds, read or not, valid or not: ending reads nothing but the cookie, so it fails
 * on nothing a read fails on; a cookie that does not unseal holds nothing to end.
 */
export function endSession(app: App, ctx: HttpContext, how: SessionEnd): Promise<void> {
  return promised(() => {
    const value = app.cookies.session(ctx)
    app.cookies.deleteSession(ctx)
    requestState(ctx).session = UNREAD
    return value === undefined ? undefined : endSealed(app, value, how)
  })
}

/**
 * Starts the session `data` in place of the request's (a login: a new session, with a new id,
 * every time): the previous one is `dropped`, and its cookies are written over rather than
 * deleted first.
 */
export async function replaceSession(app: App, ctx: HttpContext, data: SessionData): Promise<void> {
  const previous = app.cookies.session(ctx)
  if (previous !== undefined) await endSealed(app, previous, 'dropped')
  await rememberProviderSession(app, data)
  await writeSession(app, ctx, data)
}

/**
 * Tells the revocation store (when it listens: `remember`) whose provider session `data.sid` is,
 * for as long as the session may live, before the session is written: a logout that names the
 * `sid` alone can then find its user. A store that fails is a 503 (no session is written).
 */
export async function rememberProviderSession(app: App, data: SessionData): Promise<void> {
  const { revocations, settings } = app
  if (revocations.remember === undefined || typeof data.sid !== 'string') return
  const ttl = settings.absoluteDuration + settings.clockTolerance
  try {
    await revocations.remember({ iss: data.iss, sid: data.sid, sub: data.sub }, ttl)
  } catch (error) {
    if (error instanceof AuthError) throw error
    throw new SessionStoreError('the revocation store is unavailable, try again shortly', {
      cause: error,
    })
  }
}

/** Ends the server-side life of the session whose cookie value is `value`. */
function endSealed(app: App, value: string, how: SessionEnd): MaybePromise<void> {
  return chain(unsealSession(app, value, ignore), (cookie) =>
    cookie ? endServerSide(app, cookie, how) : undefined,
  )
}

/** Ends the server-side life of the session whose cookie unsealed to `cookie`. */
async function endServerSide(app: App, cookie: CachedSeal, how: SessionEnd): Promise<void> {
  const { settings } = app
  const { payload } = cookie
  if (settings.store) {
    if (typeof payload.ref === 'string') {
      const query = referenceQuery(app, payload)
      await settings.store.delete(payload.ref, query && ownerOf(query))
    }
    return
  }
  if (how === 'dropped' || !isSessionData(payload)) return
  let endsAt: number
  try {
    endsAt = viewOf(settings, cookie, payload).endsAt
  } catch {
    // claims that cannot be read: the cookie never read as a session
    return
  }
  try {
    // as long as the session could have lived, and the clock tolerance
    const ttl = Math.max(1, endsAt - epoch(settings)) + settings.clockTolerance
    await app.revocations.revoke({ iss: payload.iss, id: payload.id, user: payload.sub }, ttl)
  } catch (error) {
    app.report({
      level: 'warn',
      code: 'session_revocation_failed',
      message: 'the end of the session could not be recorded in the revocation store',
      error,
    })
  }
}

/**
 * Ends the local session: deletes its cookie(s) at once (before the promise settles), its data in
 * the server-side store, and revokes a cookie session's id, so that a copy of the cookie is dead
 * as well (see `endSession`).
 */
export function destroySession(auth: Auth, ctx: HttpContext): Promise<void> {
  return endSession(appOf(auth), ctx, 'signed-out')
}

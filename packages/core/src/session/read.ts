/**
 * Reading the request's session. The absolute, idle and provider lifetimes are enforced from
 * timestamps inside the seal, not only by the cookie's expiry. A tampered, truncated, expired or
 * foreign cookie reads as "no session" and is reported to the logger; a store that fails is a
 * 503. A cookie sealed with a retired password is resealed with the newest. A session that a
 * logout revoked (back-channel, front-channel, or a copy of a logged-out cookie) reads as
 * anonymous: every read asks the revocation store once.
 *
 * A read awaits nothing when no I/O is needed: a cookie session whose value is cached, a
 * revocation store that answers at once, no write due. Every check still runs on every read.
 */
import { type App, type Auth, appOf } from '../auth.js'
import { epoch } from '../clock.js'
import type { HttpContext } from '../http/context.js'
import { requestState } from '../http/jar.js'
import { UNREAD } from '../http/request-state.js'
import { chain, type MaybePromise, promised } from '../maybe.js'
import { isRevoked, sameQuery } from './revoked.js'
import { openSession, type Sealed } from './sealed.js'
import { ownerOf } from './store.js'
import type { Session, SessionData } from './types.js'
import { isSessionData, type SessionView, sessionEnd, touchInterval, viewOf } from './view.js'
import { touchSession } from './write.js'

/**
 * The request's session, or `undefined` when anonymous; read once per request (a new session
 * written in the request, or an ended one, makes the next read read again). At once when the read
 * needs no I/O; may throw (a failing store) as well as reject.
 */
export function readSession(app: App, ctx: HttpContext): MaybePromise<Session | undefined> {
  const state = requestState(ctx)
  if (state.session === UNREAD) {
    // what the app answers now depends on the cookie: caches must keep it per cookie
    if (!state.varied) {
      state.varied = true
      ctx.varyOnCookie?.()
    }
    state.session = read(app, ctx)
  }
  return state.session
}

/** The request's session, or `undefined` when the request is anonymous. */
export function getSession(auth: Auth, ctx: HttpContext): Promise<Session | undefined> {
  return promised(() => readSession(appOf(auth), ctx))
}

function read(app: App, ctx: HttpContext): MaybePromise<Session | undefined> {
  const value = app.cookies.session(ctx)
  if (value === undefined) return undefined
  return chain(openSession(app, value, app.rejectCookie), (sealed) =>
    sealed ? check(app, ctx, sealed) : undefined,
  )
}

/**
 * The checks of every read, cached payload or not: shape, lifetimes (absolute, idle, provider),
 * revocation; then the rolling touch or the rotation reseal.
 */
function check(app: App, ctx: HttpContext, sealed: Sealed): MaybePromise<Session | undefined> {
  const { entry, stale } = sealed
  const data = entry.payload
  if (!isSessionData(data)) {
    app.rejectCookie('malformed')
    return undefined
  }
  let view: SessionView
  try {
    view = viewOf(app.settings, entry, data)
  } catch (error) {
    app.rejectCookie('malformed', error)
    return undefined
  }
  if (!ofThisProvider(app, ctx, view.fields)) return undefined
  const now = epoch(app.settings)
  if (now >= view.endsAt) {
    app.rejectCookie('expired')
    return ended(app, data)
  }
  const { early } = sealed
  const revocation =
    early !== undefined && sameQuery(early.query, view.query)
      ? early.revoked
      : isRevoked(app, view.query)
  return chain(revocation, (revoked) => {
    if (!revoked) return current(app, ctx, view, stale, now)
    app.report({
      level: 'info',
      code: 'session_revoked',
      message: 'the session was ended by a logout; the request is anonymous',
    })
    return ended(app, data)
  })
}

/**
 * Whether the session is of a provider the app signs in with (another app's session, sealed with
 * the same secret, is not this app's), and, where `resolveProvider` picks the request's provider,
 * of that one: one tenant's session is not valid at another tenant's address. codeflow's own
 * routes take any of the app's sessions (a logout ends whichever the browser has).
 */
function ofThisProvider(app: App, ctx: HttpContext, data: SessionData): boolean {
  const provider = app.providers.of(data)
  if (provider === undefined) {
    app.rejectCookie('of another provider')
    return false
  }
  const { settings } = app
  if (settings.resolveProvider === undefined || settings.routeNames.has(ctx.url.pathname)) {
    return true
  }
  const resolved = app.providers.forRequest(ctx)
  if (resolved === undefined || resolved === provider) return true
  app.report({
    level: 'info',
    code: 'session_of_another_provider',
    message: `a session of provider ${JSON.stringify(provider.providerId)} came to an address "resolveProvider" gives ${JSON.stringify(resolved.providerId)}; the request is anonymous here`,
  })
  return false
}

/** An ended session: `undefined`, once its data is deleted from a server-side store. */
function ended(app: App, data: SessionData): MaybePromise<undefined> {
  const { store } = app.settings
  return store ? store.delete(data.id, ownerOf(data)).then(() => undefined) : undefined
}

/**
 * The session the app sees; rolling sessions record activity, at most every `touchInterval`
 * seconds (a write per request would cost a seal per request), and a retired password is resealed
 * with the newest.
 */
function current(
  app: App,
  ctx: HttpContext,
  view: SessionView,
  stale: boolean,
  now: number,
): MaybePromise<Session> {
  const { fields, endsAt } = view
  // a copy of the claims: an app that adds a member to `session.user` changes its request only
  const user = { ...view.user }
  const { settings } = app
  if (
    stale ||
    (settings.idleDuration !== false && now - fields.updatedAt >= touchInterval(settings))
  ) {
    const touched = { ...fields, updatedAt: now }
    return touchSession(app, ctx, touched, user).then(() => ({
      ...touched,
      user,
      endsAt: sessionEnd(settings, touched, user),
    }))
  }
  return { ...fields, user, endsAt }
}

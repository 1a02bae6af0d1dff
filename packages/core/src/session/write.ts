/**
 * Writing a session: sealed into the session cookie (chunked when large), or into the server-side
 * store with a sealed reference in the cookie. The seal and the store entry live as long as the
 * session may.
 */
import type { App } from '../auth.js'
import { epoch } from '../clock.js'
import type { HttpContext } from '../http/context.js'
import { requestState } from '../http/jar.js'
import { UNREAD } from '../http/request-state.js'
import { seal } from '../seal/seal.js'
import type { SessionData, UserClaims } from './types.js'
import { claimsOf, sessionEnd } from './view.js'

/** Seconds the seal of `data` must live: what is left of the session, at least one. */
export function lifetime(app: App, data: SessionData, user: UserClaims): number {
  return Math.max(sessionEnd(app.settings, data, user) - epoch(app.settings), 1)
}

/** What unsealing a seal of `payload` returns: its JSON round trip, with the kind member. */
function asUnsealed(payload: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify({ ...payload, k: 'session' })) as Record<string, unknown>
}

/**
 * Seals `data` (whose claims are `user`) into the response's cookies, and into the store when there
 * is one. The next request presents what was just sealed, so it goes into the app's cache as
 * unsealing would return it. Throws `SessionTooLargeError` past the chunk cap.
 */
async function sealInto(
  app: App,
  ctx: HttpContext,
  data: SessionData,
  user: UserClaims,
): Promise<void> {
  const { settings } = app
  const ttl = lifetime(app, data, user)
  const payload = { ...data }
  const sealed = await seal('session', payload, settings.passwords, ttl)
  app.sessions.set(sealed, asUnsealed(payload), settings.passwords)
  let value = sealed
  if (settings.store) {
    await settings.store.set(data.id, sealed, ttl)
    const reference = { ref: data.id }
    value = await seal('session', reference, settings.passwords, ttl)
    app.sessions.set(value, asUnsealed(reference), settings.passwords)
  }
  app.cookies.writeSession(ctx, value, settings.persistent ? ttl : undefined)
}

/** Writes `data` as the request's session: a read later in this request reads it. */
export async function writeSession(app: App, ctx: HttpContext, data: SessionData): Promise<void> {
  await sealInto(app, ctx, data, claimsOf(data))
  requestState(ctx).session = UNREAD
}

/**
 * Writes again the session this request read (its activity recorded, or resealed with the newest
 * password): the read returns it, so the request's read stands.
 */
export function touchSession(
  app: App,
  ctx: HttpContext,
  data: SessionData,
  user: UserClaims,
): Promise<void> {
  return sealInto(app, ctx, data, user)
}

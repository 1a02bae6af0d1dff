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
import { seal, unseal } from '../seal/seal.js'
import type { SessionData, UserClaims } from './types.js'
import { claimsOf, isSessionData, sessionEnd } from './view.js'

/** Seconds the seal of `data` must live: what is left of the session, at least one. */
function lifetime(app: App, data: SessionData, user: UserClaims): number {
  return Math.max(sessionEnd(app.settings, data, user) - epoch(app.settings), 1)
}

/** What unsealing a seal of `payload` returns: its JSON round trip, with the kind member. */
function asUnsealed(payload: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify({ ...payload, k: 'session' })) as Record<string, unknown>
}

/**
 * Writes `data` as the request's session: sealed into the response's cookies, and into the store
 * when there is one; `user` are its claims when the caller has them. The next request presents
 * what was just sealed, so it goes into the app's cache as unsealing would return it; a read later
 * in this request reads it. Throws `SessionTooLargeError` past the chunk cap.
 */
export async function writeSession(
  app: App,
  ctx: HttpContext,
  data: SessionData,
  user: UserClaims = claimsOf(data),
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
  requestState(ctx).session = UNREAD
}

/** Seals `data` into the store under its id (no cookie): what other instances then read. */
export async function writeStored(app: App, data: SessionData): Promise<void> {
  const { store, passwords } = app.settings
  if (!store) return
  const ttl = lifetime(app, data, claimsOf(data))
  await store.set(data.id, await seal('session', { ...data }, passwords, ttl), ttl)
}

/**
 * The session `id` as the store holds it now (another instance may have refreshed it), or
 * `undefined` when it is gone or there is no store.
 */
export async function readStored(app: App, id: string): Promise<SessionData | undefined> {
  const stored = await app.settings.store?.get(id)
  if (stored === undefined) return undefined
  const data = await unseal('session', stored, app.settings.passwords, () => undefined)
  if (!data || !isSessionData(data) || data.id !== id) return undefined
  const { k: _kind, ...fields } = data
  return fields as unknown as SessionData
}

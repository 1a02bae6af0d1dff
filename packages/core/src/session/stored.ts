/**
 * A server-side store's copy of a session, read and written without a request: what instances
 * share while one of them refreshes the session (`tokens/refresh-lock.ts`).
 */
import type { App } from '../auth.js'
import { seal, unseal } from '../seal/seal.js'
import { packSession, unpackSession } from './compact.js'
import { ownerOf, type SessionOwner } from './store.js'
import type { SessionData } from './types.js'
import { claimsOf, isSessionData } from './view.js'
import { lifetime } from './write.js'

/**
 * The session `id` as the store holds it now (another instance may have refreshed it), or
 * `undefined` when it is gone or there is no store.
 */
export async function readStored(
  app: App,
  id: string,
  owner: SessionOwner,
): Promise<SessionData | undefined> {
  const stored = await app.settings.store?.get(id, owner)
  if (stored === undefined) return undefined
  const sealed = await unseal('session', stored, app.settings.sealKeys.session, () => undefined)
  const data = sealed && (await unpackSession(sealed))
  if (!data || !isSessionData(data) || data.id !== id) return undefined
  const { k: _kind, ...fields } = data
  return fields as unknown as SessionData
}

/** Seals `data` into the store under its id (no cookie): what other instances then read. */
export async function writeStored(app: App, data: SessionData): Promise<void> {
  const { store, sealKeys } = app.settings
  if (!store) return
  const ttl = lifetime(app, data, claimsOf(data))
  await store.set(
    data.id,
    await seal('session', await packSession(data), sealKeys.session, ttl),
    ttl,
    ownerOf(data),
  )
}

/**
 * A session cookie's sealed value, opened: from the cookie itself, or through the cookie's sealed
 * reference from the server-side store. Unsealed payloads come from the app's cache when the same
 * value was opened (or sealed) before, so a cookie seen before is not unsealed again.
 */
import type { App } from '../auth.js'
import type { Rejected } from '../logger.js'
import { chain, type MaybePromise } from '../maybe.js'
import { unseal } from '../seal/seal.js'
import type { CachedSeal } from './cache.js'
import { unpackSession } from './compact.js'
import { type EarlyCheck, isRevoked, referenceQuery } from './revoked.js'
import { ownerOf } from './store.js'

/** A verified session payload and whether a retired (older) password sealed it. */
export interface Sealed {
  readonly entry: CachedSeal
  readonly stale: boolean
  /** the revocation check that went out beside the store's read, when the reference allowed it */
  readonly early?: EarlyCheck | undefined
}

const ignore = () => undefined

/**
 * The payload of a sealed session value (a cookie's or a store's), through the app's cache: a
 * value seen before (within its seal's expiry, under a password still configured) is not unsealed
 * again. At once on a cache hit.
 */
export function unsealSession(
  app: App,
  value: string,
  rejected: Rejected,
): MaybePromise<CachedSeal | undefined> {
  const passwords = app.settings.sealKeys.session
  const hit = app.sessions.get(value, passwords)
  if (hit) return hit
  return unseal('session', value, passwords, rejected).then(async (sealed) => {
    if (!sealed) return undefined
    let payload: Record<string, unknown>
    try {
      payload = await unpackSession(sealed)
    } catch (error) {
      rejected('malformed', error)
      return undefined
    }
    return app.sessions.set(value, payload, passwords)
  })
}

/**
 * The verified session of a cookie's value: the cookie's own payload, or with a server-side store
 * the stored value its reference names (read from the store on every request: a logout elsewhere
 * deletes it). At once for a cookie session whose value is cached.
 */
export function openSession(
  app: App,
  value: string,
  rejected: Rejected,
): MaybePromise<Sealed | undefined> {
  return chain(unsealSession(app, value, rejected), (cookie) => {
    if (!cookie) return undefined
    const { store, newestPasswordId } = app.settings
    const stale = cookie.passwordId !== newestPasswordId
    const { ref } = cookie.payload
    if (!store) {
      if (typeof ref !== 'string') return { entry: cookie, stale }
      rejected('a store reference without a store')
      return undefined
    }
    if (typeof ref === 'string') return fromStore(app, cookie, ref, stale, rejected)
    rejected('a cookie session while a store is configured')
    return undefined
  })
}

/**
 * The session a reference names, read from the store. The revocation check goes out at the same
 * time when the reference carries its query (one round trip: a client that pipelines, such as
 * node-redis, sends both commands together); the read uses that answer only when the stored
 * session asks the same question (it may have changed since the reference was sealed).
 */
async function fromStore(
  app: App,
  cookie: CachedSeal,
  ref: string,
  stale: boolean,
  rejected: Rejected,
): Promise<Sealed | undefined> {
  const query = referenceQuery(app, cookie.payload)
  let early: EarlyCheck | undefined
  if (query !== undefined) {
    const revoked = isRevoked(app, query)
    // its failure is seen when the read awaits it; when the read does not, it is not a crash
    if (revoked instanceof Promise) revoked.catch(ignore)
    early = { query, revoked }
  }
  // a store failure is a 503 (SessionStoreError), never a silent anonymous request
  const stored = await app.settings.store?.get(ref, query && ownerOf(query))
  if (stored === undefined) {
    rejected('not in the store (ended or expired)')
    return undefined
  }
  const entry = await unsealSession(app, stored, rejected)
  if (!entry || entry.payload.id !== ref) {
    rejected('store value does not match')
    return undefined
  }
  return { entry, stale: stale || entry.passwordId !== app.settings.newestPasswordId, early }
}

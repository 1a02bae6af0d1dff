/**
 * The revocation check of a session read: whether a logout (back-channel, front-channel, or a
 * local logout of a copy of this cookie) ended the session, one lookup in the revocation store.
 */
import type { App } from '../auth.js'
import { AuthError, SessionStoreError } from '../errors.js'
import type { MaybePromise } from '../maybe.js'
import type { RevocationQuery } from './revocation.js'

/** Whether `query`'s session is revoked. A store that fails is a 503, never a session. */
export function isRevoked(app: App, query: RevocationQuery): MaybePromise<boolean> {
  const store = app.revocations
  try {
    // the memory store answers at once: no await on the hot path
    if (store.isRevokedNow) return store.isRevokedNow(query)
    return store.isRevoked(query).catch(revocationFailure)
  } catch (error) {
    return revocationFailure(error)
  }
}

function revocationFailure(error: unknown): never {
  if (error instanceof AuthError) throw error
  throw new SessionStoreError('the revocation store is unavailable, try again shortly', {
    cause: error,
  })
}

/** Whether two queries ask about the same session with the same fields. */
export function sameQuery(a: RevocationQuery, b: RevocationQuery): boolean {
  return (
    a.id === b.id &&
    a.iss === b.iss &&
    a.sub === b.sub &&
    a.sid === b.sid &&
    a.createdAt === b.createdAt
  )
}

/**
 * A check started early: with a server-side store, the reference cookie carries what the
 * revocation store is asked, so the check goes out beside the store's read (one round trip, not
 * two); the read then uses its answer when the stored session asks the same.
 */
export interface EarlyCheck {
  readonly query: RevocationQuery
  readonly revoked: MaybePromise<boolean>
}

/**
 * The revocation query a store reference carries (`{ ref, u: sub, t: createdAt, s?: sid, i?: iss }`,
 * without `i` for the app's own issuer), or `undefined` for a reference without one (sealed before
 * references carried it). What it says is what was sealed at login; a read still checks the
 * stored session's own fields (`sameQuery`).
 */
export function referenceQuery(
  app: App,
  payload: Readonly<Record<string, unknown>>,
): RevocationQuery | undefined {
  const { ref, u: sub, t: createdAt, s: sid, i: iss = app.settings.issuerName } = payload
  if (
    typeof ref !== 'string' ||
    typeof iss !== 'string' ||
    typeof sub !== 'string' ||
    typeof createdAt !== 'number' ||
    (sid !== undefined && typeof sid !== 'string')
  ) {
    return undefined
  }
  return { id: ref, iss, sub, sid, createdAt }
}

/**
 * Refreshing across instances: with a session store that can lock (Redis), one instance takes a
 * short lock and refreshes, saving the rotated tokens in the store before it lets go; the others
 * wait and read what it saved, so a rotated refresh token is spent once.
 */
import type { App } from '../auth.js'
import { TokenRefreshError } from '../errors.js'
import { ownerOf } from '../session/store.js'
import { readStored, writeStored } from '../session/stored.js'
import type { SessionData } from '../session/types.js'
import { refreshAtProvider, type Target } from './grant.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Milliseconds between two looks at the store while another instance refreshes. */
const POLL_MS = 50

/**
 * Refreshes `session` for `target` once across the instances sharing the store: `done` says
 * whether a session read back from the store already has what the caller needs. Without a
 * locking store, refreshes at once (single flight is then per process only).
 */
export async function refreshAcrossInstances(
  app: App,
  session: SessionData,
  target: Target,
  done: (candidate: SessionData) => boolean,
): Promise<SessionData> {
  const { store, httpTimeout } = app.settings
  if (!store?.lock) return refreshAtProvider(app, session, target)
  // three attempts of httpTimeout each, and their back-off; a real wait, so real time
  const holdMs = httpTimeout * 3 + 1000
  const deadline = Date.now() + holdMs
  for (;;) {
    const release = await store.lock(`refresh:${session.id}`, holdMs / 1000, ownerOf(session))
    if (release) {
      try {
        const latest = await readLatest(app, session)
        if (done(latest)) return latest
        const next = await refreshAtProvider(app, latest, target)
        await writeStored(app, next)
        return next
      } finally {
        await release()
      }
    }
    // another instance is refreshing this session: read what it saves
    await sleep(POLL_MS)
    const latest = await readLatest(app, session)
    if (done(latest)) return latest
    if (Date.now() > deadline) {
      throw new TokenRefreshError('another instance did not finish refreshing in time', 504)
    }
  }
}

/** The session `id` as the store holds it now; a 401 when it has ended. */
async function readLatest(app: App, session: SessionData): Promise<SessionData> {
  const latest = await readStored(app, session.id, ownerOf(session))
  if (!latest) throw new TokenRefreshError('the session has ended', 401)
  return latest
}

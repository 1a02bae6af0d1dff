/**
 * Refreshing in this process: callers that ask for the same refresh of one session share it, the
 * refreshes of one session run one after another (each spends the refresh token the previous one
 * received), a completed refresh is remembered for callers still holding the old cookie, and one
 * that just failed on a provider fault fails again at once for a moment, so that a broken provider
 * is not hit again by every request.
 */
import type { App } from '../auth.js'
import { epoch } from '../clock.js'
import { AuthError } from '../errors.js'
import type { SessionData } from '../session/types.js'
import { refreshAtProvider, type Target } from './grant.js'
import { refreshAcrossInstances } from './refresh-lock.js'
import { refreshKey } from './registry.js'

/**
 * One refresh of `session` for `target`: shared in this process (this module), locked across
 * instances with a locking store (`refresh-lock.ts`), granted by the provider (`grant.ts`);
 * `done` says whether a newer session already has what the caller needs.
 */
export function refreshSession(
  app: App,
  session: SessionData,
  target: Target,
  done: (candidate: SessionData) => boolean,
): Promise<SessionData> {
  const key = refreshKey(session)
  // no refresh token: refused at once (401)
  if (key === undefined) return refreshAtProvider(app, session, target)
  const { refreshes, settings } = app
  const flight = `${key}\n${target.key ?? ''}`
  const running = refreshes.inflight.get(flight)
  if (running) return running
  const failed = refreshes.recentFailure(flight, settings.clock())
  if (failed !== undefined) return Promise.reject(localize(failed))
  const previous = refreshes.queues.get(session.id) ?? Promise.resolve()
  const started = previous
    .catch(() => undefined)
    .then(() => {
      // a refresh that ran before this one may already have done the work
      const latest = refreshes.newest(session, epoch(settings))
      return done(latest) ? latest : refreshAcrossInstances(app, latest, target, done)
    })
    .then(
      (next) => {
        refreshes.remember(key, next, epoch(settings))
        return next
      },
      (error: unknown) => {
        if (error instanceof AuthError && error.status >= 500) {
          refreshes.failed(flight, error, settings.clock())
        }
        throw error
      },
    )
    .finally(() => {
      refreshes.inflight.delete(flight)
      if (refreshes.queues.get(session.id) === started) refreshes.queues.delete(session.id)
    })
  refreshes.inflight.set(flight, started)
  refreshes.queues.set(session.id, started)
  return started.catch((error: unknown) => {
    throw localize(error)
  })
}

/**
 * The refreshes are shared by every copy of the core in the process (Next.js bundles its proxy and
 * its app apart), so an error may be another copy's `AuthError`: rebuilt here, so that
 * `instanceof` checks and the adapters' rendering keep working.
 */
function localize(error: unknown): unknown {
  if (error instanceof AuthError || !(error instanceof Error)) return error
  const { code, status, headers } = error as Partial<AuthError>
  if (typeof code !== 'string' || typeof status !== 'number') return error
  return new AuthError(error.message, code, status, { cause: error, headers: { ...headers } })
}

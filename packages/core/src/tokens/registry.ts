/**
 * What one app remembers about its refreshes in this process: the refreshes under way (so that
 * concurrent callers share one), the order of each session's refreshes, the refreshes that just
 * failed on a provider fault, and the completed ones, so that a request that still carries the old
 * cookie adopts the refreshed session instead of spending a rotated refresh token again (RFC 9700
 * §4.14.2).
 */
import type { SessionData } from '../session/types.js'

/** How long a completed refresh is remembered, in seconds. */
const REMEMBER_SECONDS = 3600
/** The most completed refreshes remembered at once; the oldest are forgotten first. */
const MAX_REMEMBERED = 5000
/** How long a refresh that failed on a provider fault is not tried again, in milliseconds. */
const FAILURE_MEMORY_MS = 2000

/** One app's refreshes in this process. */
export class RefreshRegistry {
  /** refreshes under way, by the refresh token they spend and their target */
  readonly inflight = new Map<string, Promise<SessionData>>()
  /** the last refresh of each session, so that refreshes of one session run one after another */
  readonly queues = new Map<string, Promise<unknown>>()
  /** refreshes that just failed on a provider fault: not retried until `until` (epoch ms) */
  readonly #failures = new Map<string, { readonly error: unknown; readonly until: number }>()
  /** completed refreshes, by the refresh token they spent; insertion order is expiry order */
  readonly #recent = new Map<string, { readonly next: SessionData; readonly until: number }>()

  /** Remembers that the refresh of `key` (see {@link refreshKey}) gave `next`, at `now` (s). */
  remember(key: string, next: SessionData, now: number): void {
    for (const [old, entry] of this.#recent) {
      if (entry.until > now && this.#recent.size < MAX_REMEMBERED) break
      this.#recent.delete(old)
    }
    this.#recent.set(key, { next, until: now + REMEMBER_SECONDS })
  }

  /** The newest session that completed refreshes made from `session`, following rotations. */
  newest(session: SessionData, now: number): SessionData {
    let current = session
    for (let step = 0; step < 8; step++) {
      const key = refreshKey(current)
      const entry = key === undefined ? undefined : this.#recent.get(key)
      if (!entry || entry.until <= now) break
      // the same tokens (the browser has them already), or older ones (a later refresh elsewhere)
      const { next } = entry
      if (next.accessToken === current.accessToken || next.updatedAt < current.updatedAt) break
      current = next
    }
    return current
  }

  /** The error of a refresh that failed on a provider fault less than a moment before `nowMs`. */
  recentFailure(flight: string, nowMs: number): unknown {
    const failed = this.#failures.get(flight)
    if (failed && failed.until > nowMs) return failed.error
    this.#failures.delete(flight)
    return undefined
  }

  /** Remembers that the refresh `flight` failed on a provider fault at `nowMs`. */
  failed(flight: string, error: unknown, nowMs: number): void {
    for (const [old, entry] of this.#failures) if (entry.until <= nowMs) this.#failures.delete(old)
    this.#failures.set(flight, { error, until: nowMs + FAILURE_MEMORY_MS })
  }
}

/** Identifies one refresh token of one session (session ids are random, 128 bits). */
export function refreshKey(session: SessionData): string | undefined {
  if (session.refreshToken === undefined) return undefined
  return `${session.iss}\n${session.id}\n${session.refreshToken}`
}

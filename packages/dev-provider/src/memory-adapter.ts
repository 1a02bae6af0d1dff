import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider'

interface Entry {
  payload: AdapterPayload
  /** epoch milliseconds; Infinity when the artifact does not expire */
  expiresAt: number
}

/** How often, at most, an upsert sweeps out expired entries. */
const SWEEP_INTERVAL_MS = 60_000

/**
 * An unbounded in-memory storage adapter, one per provider.
 *
 * oidc-provider's own memory adapter is an LRU capped at 1000 entries: a benchmark or a long test
 * run that logs in a few hundred times would see sessions, grants and refresh tokens evicted and
 * fail with `invalid_grant`. This one keeps everything until it expires, and sweeps expired
 * entries out now and then so a long run does not grow without bound.
 */
/** How the next refresh fails: `invalid_grant`, a 500 `server_error`, or no answer at all. */
export type RefreshFailure = 'invalid_grant' | 'server_error' | 'hang'

/** The adapter, and what tests do to what it holds. */
export interface MemoryAdapter extends AdapterFactory {
  /** Makes every login session `seconds` older: its `auth_time` moves back (tests of max_age). */
  ageSessions(seconds: number): void
  /** Makes the next refresh token lookup fail as `failure` says. */
  failNextRefresh(failure: RefreshFailure): void
  /** Deletes every grant, token and code of `accountId`: its refresh tokens no longer work. */
  revokeTokens(accountId: string): number
  /** Makes every access token of `accountId` expire now (introspection: inactive). */
  expireAccessTokens(accountId: string): number
  /** The live login sessions of `accountId`: their storage key and the clients, with their `sid`. */
  sessionsOf(accountId: string): { key: string; clients: Record<string, string | undefined> }[]
  /** Deletes a login session found by `sessionsOf`. */
  deleteSession(key: string): void
  /** Ends the hanging refreshes (`failNextRefresh('hang')`), as the provider closes. */
  release(): void
}

/**
 * `refreshing` tells whether the request being served is a token request (the refresh grant is
 * the only one that looks a refresh token up there; introspection and revocation, which look
 * them up too, have endpoints of their own).
 */
export function createMemoryAdapter(refreshing: () => boolean = () => true): MemoryAdapter {
  const entries = new Map<string, Entry>()
  /** Session uid → storage key, for `findByUid`. */
  const sessionKeysByUid = new Map<string, string>()
  /** Grant id → storage keys of the tokens and codes issued under that grant. */
  const keysByGrantId = new Map<string, Set<string>>()
  let nextSweepAt = Date.now() + SWEEP_INTERVAL_MS
  let refreshFailure: RefreshFailure | undefined
  const hanging = new Set<() => void>()

  function remove(key: string): void {
    const entry = entries.get(key)
    if (!entry) return
    entries.delete(key)
    const { uid, grantId } = entry.payload
    if (typeof uid === 'string' && sessionKeysByUid.get(uid) === key) sessionKeysByUid.delete(uid)
    if (typeof grantId === 'string') keysByGrantId.get(grantId)?.delete(key)
  }

  function read(key: string): AdapterPayload | undefined {
    const entry = entries.get(key)
    if (!entry) return undefined
    if (entry.expiresAt <= Date.now()) {
      remove(key)
      return undefined
    }
    // A copy, as a database would return: a caller that changes it must upsert to persist.
    return structuredClone(entry.payload)
  }

  function sweep(): void {
    const now = Date.now()
    if (now < nextSweepAt) return
    nextSweepAt = now + SWEEP_INTERVAL_MS
    for (const [key, entry] of entries) {
      if (entry.expiresAt <= now) remove(key)
    }
    for (const [grantId, keys] of keysByGrantId) {
      if (keys.size === 0) keysByGrantId.delete(grantId)
    }
  }

  const factory = (model: string): Adapter => {
    const keyFor = (id: string) => `${model}:${id}`
    return {
      async upsert(id, payload, expiresIn) {
        sweep()
        const key = keyFor(id)
        remove(key)
        const expiresAt = expiresIn === undefined ? Infinity : Date.now() + expiresIn * 1000
        entries.set(key, { payload: structuredClone(payload), expiresAt })
        if (model === 'Session' && typeof payload.uid === 'string') {
          sessionKeysByUid.set(payload.uid, key)
        }
        if (typeof payload.grantId === 'string') {
          let keys = keysByGrantId.get(payload.grantId)
          if (!keys) {
            keys = new Set()
            keysByGrantId.set(payload.grantId, keys)
          }
          keys.add(key)
        }
      },
      async find(id) {
        if (model === 'RefreshToken' && refreshFailure !== undefined && refreshing()) {
          const failure = refreshFailure
          refreshFailure = undefined
          // oidc-provider answers a refresh token it cannot find with invalid_grant, and a
          // storage that fails with 500 server_error
          if (failure === 'invalid_grant') return undefined
          if (failure === 'server_error') throw new Error('the dev provider was told to fail')
          await new Promise<void>((resolve) => hanging.add(resolve))
          throw new Error('the dev provider closed during a hanging refresh')
        }
        return read(keyFor(id))
      },
      async findByUid(uid) {
        const key = sessionKeysByUid.get(uid)
        return key === undefined ? undefined : read(key)
      },
      // Only the device flow looks artifacts up by user code, and it is not enabled.
      async findByUserCode() {
        return undefined
      },
      async consume(id) {
        const entry = entries.get(keyFor(id))
        if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000)
      },
      async destroy(id) {
        remove(keyFor(id))
      },
      async revokeByGrantId(grantId) {
        for (const key of keysByGrantId.get(grantId) ?? []) remove(key)
        keysByGrantId.delete(grantId)
      },
    }
  }
  const ofAccount = (accountId: string, models: readonly string[]) =>
    [...entries].filter(
      ([key, entry]) =>
        models.some((model) => key.startsWith(`${model}:`)) &&
        entry.payload.accountId === accountId,
    )
  return Object.assign(factory, {
    failNextRefresh(failure: RefreshFailure): void {
      refreshFailure = failure
    },
    revokeTokens(accountId: string): number {
      const found = ofAccount(accountId, [
        'Grant',
        'AccessToken',
        'RefreshToken',
        'AuthorizationCode',
      ])
      for (const [key] of found) remove(key)
      return found.length
    },
    expireAccessTokens(accountId: string): number {
      const found = ofAccount(accountId, ['AccessToken'])
      for (const [, entry] of found) entry.expiresAt = Date.now()
      return found.length
    },
    sessionsOf(accountId: string) {
      const live = ofAccount(accountId, ['Session']).filter(([key]) => read(key) !== undefined)
      return live.map(([key, entry]) => {
        const authorizations = (entry.payload.authorizations ?? {}) as Record<
          string,
          { sid?: string }
        >
        return {
          key,
          clients: Object.fromEntries(
            Object.entries(authorizations).map(([clientId, { sid }]) => [clientId, sid]),
          ),
        }
      })
    },
    deleteSession(key: string): void {
      remove(key)
    },
    release(): void {
      for (const resolve of hanging) resolve()
      hanging.clear()
    },
    ageSessions(seconds: number): void {
      for (const [key, entry] of entries) {
        const { loginTs } = entry.payload as { loginTs?: unknown }
        if (key.startsWith('Session:') && typeof loginTs === 'number') {
          entry.payload = { ...entry.payload, loginTs: loginTs - seconds }
        }
      }
    },
  })
}

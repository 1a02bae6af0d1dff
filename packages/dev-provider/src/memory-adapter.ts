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
export function createMemoryAdapter(): AdapterFactory & {
  /** Makes every login session `seconds` older: its `auth_time` moves back (tests of max_age). */
  ageSessions(seconds: number): void
} {
  const entries = new Map<string, Entry>()
  /** Session uid → storage key, for `findByUid`. */
  const sessionKeysByUid = new Map<string, string>()
  /** Grant id → storage keys of the tokens and codes issued under that grant. */
  const keysByGrantId = new Map<string, Set<string>>()
  let nextSweepAt = Date.now() + SWEEP_INTERVAL_MS

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
  return Object.assign(factory, {
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

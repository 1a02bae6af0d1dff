import { SessionStoreError } from '@codeflow/core'

/**
 * How late a deadline may fire, in milliseconds: pending commands are looked at by one shared
 * timer this often, instead of a timer per command, which cost more than a pipelined command
 * itself on the hot path.
 */
export const DEADLINE_RESOLUTION_MS = 10

/** Something the shared timer looks at: whether it is done (expired or settled) at `now`. */
type Watch = (now: number) => boolean

const watched = new Set<Watch>()
let timer: ReturnType<typeof setInterval> | undefined

function tick(): void {
  const now = performance.now()
  for (const watch of watched) if (watch(now)) watched.delete(watch)
  if (watched.size === 0 && timer !== undefined) {
    clearInterval(timer)
    timer = undefined
  }
}

function watch(check: Watch): void {
  watched.add(check)
  if (timer === undefined) {
    timer = setInterval(tick, DEADLINE_RESOLUTION_MS)
    // the commands keep the process alive, not their deadlines (where timers are objects)
    if (typeof timer === 'object') timer.unref?.()
  }
}

function timedOut(ms: number): Error {
  return new Error(`redis did not answer within ${ms} ms`)
}

/**
 * Rejects when `operation` has not settled within `ms` milliseconds (at most
 * `DEADLINE_RESOLUTION_MS` later).
 */
export function deadline<T>(operation: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const at = performance.now() + ms
    let settled = false
    watch((now) => {
      if (settled) return true
      if (at > now) return false
      reject(timedOut(ms))
      return true
    })
    operation.then(
      (value) => {
        settled = true
        resolve(value)
      },
      (error: unknown) => {
        settled = true
        reject(error)
      },
    )
  })
}

/**
 * node-redis's way (v5, v6) to give commands options: a view of the client whose commands carry
 * them. Its `timeout` option (5 s by default) costs every command an `AbortSignal.timeout` that
 * lives until it fires, seconds after the command answered (at thousands of requests a second,
 * hundreds of thousands of live timers, and most of the garbage collector's work), and it only
 * ever drops a command that was not sent yet: one sent and never answered waits forever.
 */
interface CommandOptionsClient {
  withCommandOptions(options: object): unknown
  /** the client's own command options (node-redis keeps them here), kept in each view */
  readonly _commandOptions?: object
}

function hasCommandOptions(client: unknown): client is CommandOptionsClient {
  return typeof (client as Partial<CommandOptionsClient>).withCommandOptions === 'function'
}

/**
 * Runs one Redis command under a deadline: a failure or a timeout becomes a `SessionStoreError`
 * (503 with `Retry-After`), never a 500 or a silently missing answer.
 */
export type RunCommand<C> = <T>(operation: (client: C) => Promise<T>) => Promise<T>

/**
 * The commands of one store under a deadline of `ms` milliseconds: each answers in time or fails.
 *
 * On node-redis, node-redis's own per-command timer is off, and the commands started within one
 * `DEADLINE_RESOLUTION_MS` share a view of the client with one `AbortSignal`: when their deadline
 * passes, the shared timer aborts it, and node-redis drops those still unsent from its queue (a
 * Redis that is away does not make the queue grow). A command costs no timer, and nothing of it
 * outlives its answer.
 */
export function commandRunner<C extends object>(client: C, ms: number): RunCommand<C> {
  const view = hasCommandOptions(client) ? sharedAbort(client, ms) : () => client
  return async (operation) => {
    try {
      return await deadline(operation(view()), ms)
    } catch (error) {
      throw new SessionStoreError(undefined, { cause: error })
    }
  }
}

/** The view of the client for the commands starting now (see `commandRunner`). */
function sharedAbort<C extends object>(client: C & CommandOptionsClient, ms: number): () => C {
  const base = client._commandOptions ?? {}
  // a view serves new commands only briefly: its signal fires at most this much before theirs
  const shared = Math.min(DEADLINE_RESOLUTION_MS, ms)
  let current: C | undefined
  let opened = 0
  return () => {
    const now = performance.now()
    if (current !== undefined && now - opened < shared) return current
    const controller = new AbortController()
    const at = now + ms
    current = client.withCommandOptions({
      ...base,
      timeout: 0,
      abortSignal: controller.signal,
    }) as C
    opened = now
    watch((time) => {
      if (at > time) return false
      controller.abort()
      return true
    })
    return current
  }
}

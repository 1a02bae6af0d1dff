import { SessionStoreError } from '@codeflow/core'

/** A command that must settle by `at` (performance.now() milliseconds). */
interface Pending {
  readonly at: number
  readonly ms: number
  readonly reject: (error: Error) => void
}

/**
 * How late a deadline may fire, in milliseconds: every pending command is looked at by one shared
 * timer this often, instead of a timer (and a race of promises) per command, which cost more than
 * a pipelined command itself on the hot path.
 */
export const DEADLINE_RESOLUTION_MS = 10

const pending = new Set<Pending>()
let timer: ReturnType<typeof setInterval> | undefined

function expire(): void {
  const now = performance.now()
  for (const entry of pending) {
    if (entry.at > now) continue
    pending.delete(entry)
    entry.reject(new Error(`redis did not answer within ${entry.ms} ms`))
  }
  if (pending.size === 0 && timer !== undefined) {
    clearInterval(timer)
    timer = undefined
  }
}

/**
 * Rejects when `operation` has not settled within `ms` milliseconds (at most
 * `DEADLINE_RESOLUTION_MS` later).
 */
export function deadline<T>(operation: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const entry: Pending = { at: performance.now() + ms, ms, reject }
    pending.add(entry)
    if (timer === undefined) {
      timer = setInterval(expire, Math.min(DEADLINE_RESOLUTION_MS, ms))
      // the operation keeps the process alive, not its deadline (where timers are objects)
      if (typeof timer === 'object') timer.unref?.()
    }
    operation.then(
      (value) => {
        pending.delete(entry)
        resolve(value)
      },
      (error: unknown) => {
        pending.delete(entry)
        reject(error)
      },
    )
  })
}

/**
 * Runs one Redis command under a deadline: a failure or a timeout becomes a `SessionStoreError`
 * (503 with `Retry-After`), never a 500 or a silently missing answer.
 */
export async function command<T>(operation: () => Promise<T>, ms: number): Promise<T> {
  try {
    return await deadline(operation(), ms)
  } catch (error) {
    throw new SessionStoreError(undefined, { cause: error })
  }
}

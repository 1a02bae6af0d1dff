import { SessionStoreError } from '@codeflow/core'

/** Rejects when `operation` has not settled within `ms` milliseconds. */
export function deadline<T>(operation: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis did not answer within ${ms} ms`)), ms)
  })
  return Promise.race([operation, timeout]).finally(() => clearTimeout(timer))
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

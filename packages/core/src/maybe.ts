/**
 * Values that are there at once when no I/O was needed, and promises otherwise: a request for a
 * cached session awaits nothing, so an adapter can call the next handler in the same tick.
 */

/** A value, or the promise of it when producing it needed I/O. */
export type MaybePromise<T> = T | Promise<T>

/**
 * `next(value)`: at once for a value, once it settles for a promise. What `next` throws is thrown
 * for a value and rejects for a promise, as a rejection of `value` does.
 */
export function chain<T, R>(
  value: MaybePromise<T>,
  next: (value: T) => MaybePromise<R>,
): MaybePromise<R> {
  return value instanceof Promise ? value.then(next) : next(value)
}

/**
 * What a failed step hands on: never a falsy value, which a framework's `next(error)` would take
 * for "go on" (Express, Fastify) or find nothing to answer with (Koa).
 */
export function failure(error: unknown): unknown {
  return error || new Error('codeflow: a step failed without an error')
}

/**
 * Runs `run` and gives its value to `next`, in the same tick when `run` needed no I/O. Whatever
 * `run` throws or rejects with goes to `fail` alone, never falsy (`failure`): one channel for
 * every error of the step.
 * What `next` throws is the caller's (a throw, or a rejection of the returned promise).
 */
export function step<T, R>(
  run: () => MaybePromise<T>,
  next: (value: T) => MaybePromise<R>,
  fail: (error: unknown) => MaybePromise<R>,
): MaybePromise<R> {
  let value: MaybePromise<T>
  try {
    value = run()
  } catch (error) {
    return fail(failure(error))
  }
  return value instanceof Promise
    ? value.then(next, (error: unknown) => fail(failure(error)))
    : next(value)
}

/** The promise of what `run` returns, throws or rejects with. */
export function promised<T>(run: () => MaybePromise<T>): Promise<T> {
  try {
    return Promise.resolve(run())
  } catch (error) {
    return Promise.reject(error)
  }
}

/**
 * Hands what a pending `value` rejects with to `fail`, for a caller that drops the promise (an
 * Express 4 middleware, whose return value nobody awaits); nothing for a value.
 */
export function rejectionTo(value: MaybePromise<unknown>, fail: (error: unknown) => void): void {
  if (value instanceof Promise) value.then(undefined, (error: unknown) => fail(failure(error)))
}

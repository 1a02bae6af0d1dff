/**
 * What the core keeps for one request: the request's cookies with the request's own writes on
 * top (so that a read after a write in the same request sees the new value), and the session read
 * for it. A property of the context object, not a WeakMap entry: an ephemeron per request slows
 * the garbage collector.
 */
import type { MaybePromise } from '../maybe.js'
import type { Session } from '../session/types.js'
import { parseCookieHeader } from './cookies.js'

/** The key of the state on a context object. */
export const STATE = Symbol('codeflow.request')

/** Nothing read yet (a session read may well give `undefined`). */
export const UNREAD = Symbol('codeflow.unread')

/** One request's state. */
export class RequestState {
  /** the request's cookies, overlaid with the cookies this request set */
  readonly cookies: Map<string, string>
  /** the session read for this request (a value, or the promise of one) */
  session: MaybePromise<Session | undefined> | typeof UNREAD = UNREAD
  /** whether the response was told it depends on the cookies */
  varied = false

  constructor(cookieHeader: string | null | undefined) {
    this.cookies = parseCookieHeader(cookieHeader)
  }
}

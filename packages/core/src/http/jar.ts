/**
 * The cookies of one app: the only place that knows their names (`__Host-` on https), their
 * `Secure` flag and how a session is chunked. Reads see the request's cookies with this request's
 * own writes on top; every write reaches the response at once.
 */
import { SessionTooLargeError } from '../errors.js'
import type { Settings } from '../options.js'
import type { HttpContext } from './context.js'
import {
  chunkCookieNames,
  chunkValue,
  deletionCookie,
  makeCookie,
  readChunked,
  type SetCookie,
} from './cookies.js'
import { RequestState, STATE } from './request-state.js'

type WithState = HttpContext & { [STATE]?: RequestState | undefined }

/** The state of the request `ctx`, made at its first use. */
export function requestState(ctx: HttpContext): RequestState {
  let state = (ctx as WithState)[STATE]
  if (!state) {
    state = new RequestState(ctx.cookieHeader ? ctx.cookieHeader() : ctx.headers.get('cookie'))
    ;(ctx as WithState)[STATE] = state
  }
  return state
}

/** One app's cookies, read and written for a request. */
export class CookieJar {
  readonly #secure: boolean
  readonly #session: string
  readonly #maxChunks: number
  readonly #transactionPrefix: string
  readonly #logout: string
  readonly #silent: string

  constructor(settings: Settings) {
    this.#secure = settings.secure
    this.#session = settings.sessionCookieName
    this.#maxChunks = settings.maxCookieChunks
    this.#transactionPrefix = settings.transactionCookiePrefix
    this.#logout = settings.logoutCookieName
    this.#silent = settings.silentCookieName
  }

  /** Whether this browser session has had its silent login attempt (`attemptSilentLogin`). */
  silentTried(ctx: HttpContext): boolean {
    return requestState(ctx).cookies.has(this.#silent)
  }

  /** Remembers the silent login attempt until the browser closes (a session cookie). */
  writeSilentTried(ctx: HttpContext): void {
    this.#write(ctx, [makeCookie(this.#silent, '1', this.#secure, undefined)])
  }

  /** The session cookie's value, its chunks joined; `undefined` when absent or incomplete. */
  session(ctx: HttpContext): string | undefined {
    return readChunked(requestState(ctx).cookies, this.#session, this.#maxChunks)
  }

  /** Whether `value` fits in the session's cookies (`session.maxCookieChunks` at most). */
  fitsSession(value: string, maxAge: number | undefined): boolean {
    return chunkValue(this.#session, value, this.#secure, maxAge, this.#maxChunks) !== undefined
  }

  /**
   * Writes `value` as the session cookie, in as few chunks as it needs, and deletes the chunks of
   * the previous value that are not written again. Throws `SessionTooLargeError` (writing
   * nothing) past the chunk cap.
   */
  writeSession(ctx: HttpContext, value: string, maxAge: number | undefined): void {
    const chunks = chunkValue(this.#session, value, this.#secure, maxAge, this.#maxChunks)
    if (!chunks) throw new SessionTooLargeError(value.length, this.#maxChunks)
    const written = new Set(chunks.map((cookie) => cookie.name))
    const stale = this.#sessionNames(ctx).filter((name) => !written.has(name))
    this.#write(ctx, [...stale.map((name) => deletionCookie(name, this.#secure)), ...chunks])
  }

  /** Deletes the session cookie and every chunk of it. */
  deleteSession(ctx: HttpContext): void {
    this.#delete(ctx, this.#sessionNames(ctx))
  }

  /** The names of this browser's login transaction cookies. */
  transactions(ctx: HttpContext): string[] {
    const names: string[] = []
    for (const name of requestState(ctx).cookies.keys()) {
      if (name.startsWith(this.#transactionPrefix)) names.push(name)
    }
    return names
  }

  /** The name of the transaction cookie of `state`. */
  transactionName(state: string): string {
    return this.#transactionPrefix + state
  }

  /** Writes the transaction cookie of `state` for `ttl` seconds. */
  writeTransaction(ctx: HttpContext, state: string, value: string, ttl: number): void {
    this.#write(ctx, [makeCookie(this.transactionName(state), value, this.#secure, ttl)])
  }

  /** The value of the cookie `name` (a transaction cookie) as this request has it. */
  get(ctx: HttpContext, name: string): string | undefined {
    return requestState(ctx).cookies.get(name)
  }

  /** Deletes the cookies `names` (transaction cookies). */
  delete(ctx: HttpContext, names: readonly string[]): void {
    this.#delete(ctx, names)
  }

  /** The logout cookie's value (a logout's `state` and `returnTo`), if any. */
  logoutState(ctx: HttpContext): string | undefined {
    return requestState(ctx).cookies.get(this.#logout)
  }

  /** Writes the logout cookie for `ttl` seconds. */
  writeLogoutState(ctx: HttpContext, value: string, ttl: number): void {
    this.#write(ctx, [makeCookie(this.#logout, value, this.#secure, ttl)])
  }

  /** Deletes the logout cookie. */
  deleteLogoutState(ctx: HttpContext): void {
    this.#delete(ctx, [this.#logout])
  }

  #sessionNames(ctx: HttpContext): string[] {
    return chunkCookieNames(requestState(ctx).cookies, this.#session)
  }

  #delete(ctx: HttpContext, names: readonly string[]): void {
    this.#write(
      ctx,
      names.map((name) => deletionCookie(name, this.#secure)),
    )
  }

  /** Sets `cookies` on the response and in the request's overlay. */
  #write(ctx: HttpContext, cookies: readonly SetCookie[]): void {
    const { cookies: overlay } = requestState(ctx)
    for (const cookie of cookies) {
      if (cookie.options.maxAge === 0) overlay.delete(cookie.name)
      else overlay.set(cookie.name, cookie.value)
      ctx.setCookie(cookie)
    }
  }
}

import type { Auth } from './auth.js'
import type { HttpContext } from './http/context.js'
import type { Session, UserClaims } from './session/types.js'
import { type AccessToken, type AccessTokenOptions, getAccessToken } from './tokens/access-token.js'
import { fetchWithToken, type TokenFetchOptions } from './tokens/fetch.js'
import { getUserinfo } from './tokens/userinfo.js'

/** What every `RequestAuth` has, signed in or not. */
interface RequestAuthMethods {
  /** a valid access token, refreshed when it has expired; throws 401 when anonymous */
  accessToken(options?: AccessTokenOptions): Promise<AccessToken>
  /** the userinfo endpoint's claims, fetched now; throws 401 when anonymous */
  userinfo(): Promise<Record<string, unknown>>
  /**
   * `fetch` with the session's access token (`Authorization: Bearer`), refreshed first when it
   * is about to expire, and once more after a 401 `invalid_token`; throws 401 when anonymous, 502
   * (504 after `timeout`) when the API cannot be reached
   */
  fetch(
    input: string | URL | Request,
    init?: RequestInit,
    options?: TokenFetchOptions,
  ): Promise<Response>
}

/** A signed-in request's `RequestAuth`: what a handler behind `requireAuth` sees. */
export interface SignedInAuth extends RequestAuthMethods {
  readonly isAuthenticated: true
  /** the signed-in user's claims */
  readonly user: UserClaims
  /** the session, tokens included */
  readonly session: Session
}

/** An anonymous request's `RequestAuth`. */
export interface AnonymousAuth extends RequestAuthMethods {
  readonly isAuthenticated: false
  readonly user: undefined
  readonly session: undefined
}

/**
 * What an adapter puts on its request (`req.auth` in Express, `ctx.state.auth` in Koa). Testing
 * `isAuthenticated` narrows it: `if (auth.isAuthenticated) auth.user.sub`.
 */
export type RequestAuth = SignedInAuth | AnonymousAuth

/** The request's `RequestAuth`, for the session already read for it. */
export function requestAuth(auth: Auth, ctx: HttpContext, session: Session): SignedInAuth
export function requestAuth(auth: Auth, ctx: HttpContext, session: Session | undefined): RequestAuth
export function requestAuth(
  auth: Auth,
  ctx: HttpContext,
  session: Session | undefined,
): RequestAuth {
  const accessToken = (options?: AccessTokenOptions) => getAccessToken(auth, ctx, options)
  const userinfo = () => getUserinfo(auth, ctx)
  const fetch = (input: string | URL | Request, init?: RequestInit, options?: TokenFetchOptions) =>
    fetchWithToken(auth, ctx, input, init, options)
  return session
    ? { isAuthenticated: true, user: session.user, session, accessToken, userinfo, fetch }
    : { isAuthenticated: false, user: undefined, session: undefined, accessToken, userinfo, fetch }
}

import type { Auth } from './auth.js'
import type { HttpContext } from './http/context.js'
import type { Session, UserClaims } from './session/types.js'
import { type AccessToken, type AccessTokenOptions, getAccessToken } from './tokens/access-token.js'
import { getUserinfo } from './tokens/userinfo.js'

/** What an adapter puts on its request (`req.auth` in Express, `ctx.state.auth` in Koa). */
export interface RequestAuth {
  /** whether the request has a valid session */
  readonly isAuthenticated: boolean
  /** the signed-in user's claims, or undefined */
  readonly user: UserClaims | undefined
  /** the session (tokens included), or undefined */
  readonly session: Session | undefined
  /** a valid access token, refreshed when it has expired; throws 401 when anonymous */
  accessToken(options?: AccessTokenOptions): Promise<AccessToken>
  /** the userinfo endpoint's claims, fetched now; throws 401 when anonymous */
  userinfo(): Promise<Record<string, unknown>>
}

/** The request's `RequestAuth`, for the session already read for it. */
export function requestAuth(
  auth: Auth,
  ctx: HttpContext,
  session: Session | undefined,
): RequestAuth {
  return {
    isAuthenticated: session !== undefined,
    user: session?.user,
    session,
    accessToken: (options) => getAccessToken(auth, ctx, options),
    userinfo: () => getUserinfo(auth, ctx),
  }
}

/**
 * Minting a session without any provider: what a browser signed in to the app holds, made from the
 * app's own configuration. The session is written by the core's own session code, into the
 * server-side store too when the app has one, and read back by the same code as a real one.
 */
import { randomBytes } from 'node:crypto'
import type { Auth, AuthOptions, CustomClaims, SessionData, UserClaims } from '@codeflow/core'
import { homeUrl, toAuth } from '@codeflow/core/adapter'
import { appNow, mintSessionCookies, sessionOrigin } from '@codeflow/core/testing'
import { type SignedIn, signedIn } from './cookies.js'

/** What a minted session holds; only `user.sub` is required. */
export interface MintOptions {
  /**
   * the user's claims (`sub` required), typed as the app declares them (`CustomClaims`); kept as
   * the session's claims, as `beforeSessionSaved` would keep them
   */
  readonly user: { readonly sub: string } & Readonly<CustomClaims> &
    Readonly<Record<string, unknown>>
  /** with `providers`: the id of the provider the user signed in at; default the first */
  readonly provider?: string
  /**
   * the session's `iss`, as the provider's tokens spell it; default `issuer` as the app wrote it.
   * Logouts (back-channel, front-channel) name sessions by the provider's spelling: write
   * `issuer` exactly as its metadata does (the dev provider's: `provider.issuer`, no final
   * slash), or give it here
   */
  readonly iss?: string
  /** the access token; default a random string (an API that checks it will refuse it) */
  readonly accessToken?: string
  /** default `Bearer` */
  readonly tokenType?: string
  /**
   * when the access token expires, epoch seconds by the app's clock; default an hour from now.
   * A past one with a `refreshToken` makes the next `getAccessToken` refresh at the provider
   */
  readonly expiresAt?: number
  /** a refresh token the provider accepts (the dev provider's `issueTokens`), for refresh tests */
  readonly refreshToken?: string
  /** the ID token (for `id_token_hint` at logout); default none */
  readonly idToken?: string
  readonly scope?: string
  /** the provider's session id (`sid`), which back-channel and front-channel logouts name */
  readonly sid?: string
  /** when the user authenticated (`auth_time`), epoch seconds; default the login time */
  readonly authTime?: number
  /** the authentication context class (`acr`) of the login */
  readonly acr?: string
  /**
   * when the user logged in, epoch seconds by the app's clock; default now. An old one tests the
   * absolute lifetime: a session past it is refused like any other
   */
  readonly createdAt?: number
  /** its last recorded activity, epoch seconds; default now (an old one tests the idle lifetime) */
  readonly updatedAt?: number
}

/** A minted session: its data and the cookies of a browser that holds it. */
export interface MintedSession extends SignedIn {
  /** what was sealed (or stored) */
  readonly session: SessionData
}

function token(): string {
  return `minted.${randomBytes(24).toString('base64url')}`
}

/**
 * Mints a signed-in session for `app`: the app's `Auth` (`codeflow.auth` on Next.js) or the very
 * options it is made with (the same `secret`, and the same store object for a server-side store),
 * and returns the cookies of a browser that holds it. No provider is asked: the session reads as
 * signed in until a lifetime, a logout or a refresh says otherwise.
 */
export async function mintSession(
  app: Auth | AuthOptions,
  options: MintOptions,
): Promise<MintedSession> {
  if (options === null || typeof options !== 'object' || typeof options.user?.sub !== 'string') {
    throw new TypeError('mintSession: "user.sub" must be a string')
  }
  const auth = toAuth(app)
  const now = appNow(auth)
  const createdAt = options.createdAt ?? now
  const origin = sessionOrigin(auth, options.provider)
  const data: Omit<SessionData, 'id'> = {
    ...origin,
    ...(options.iss === undefined ? {} : { iss: options.iss }),
    sub: options.user.sub,
    ...(options.sid === undefined ? {} : { sid: options.sid }),
    ...(options.idToken === undefined ? {} : { idToken: options.idToken }),
    user: { ...options.user } as UserClaims,
    accessToken: options.accessToken ?? token(),
    tokenType: options.tokenType ?? 'Bearer',
    expiresAt: options.expiresAt ?? now + 3600,
    ...(options.refreshToken === undefined ? {} : { refreshToken: options.refreshToken }),
    ...(options.scope === undefined ? {} : { scope: options.scope }),
    authTime: options.authTime ?? createdAt,
    ...(options.acr === undefined ? {} : { acr: options.acr }),
    createdAt,
    updatedAt: options.updatedAt ?? Math.max(now, createdAt),
  }
  const { session, cookies } = await mintSessionCookies(auth, data)
  const base = new URL(homeUrl(auth))
  return {
    ...signedIn(
      base,
      cookies.map((cookie) => cookie.header),
      Math.floor(Date.now() / 1000),
    ),
    session,
  }
}

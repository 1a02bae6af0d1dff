/** What a session holds: the types every layer shares (this module imports nothing). */

/**
 * The claims an app expects of its users, declared once for every adapter by module
 * augmentation: `declare module '@codeflow/core' { interface CustomClaims { groups?: string[] } }`.
 * Empty by default. Declared claims are typed in `user` everywhere (guards, handlers); codeflow
 * does not check their types, so a guard should (the claim matchers do).
 */
// biome-ignore lint/suspicious/noEmptyInterface: an interface apps augment
export interface CustomClaims {}

/** The claims about the signed-in user, from the ID token (protocol claims removed). */
export type UserClaims = Readonly<Record<string, unknown>> & {
  readonly sub: string
} & Readonly<CustomClaims>

/** What is sealed into the session cookie (or the server-side store). */
export interface SessionData {
  /** the session's own id, new at every login */
  readonly id: string
  /** the issuer that authenticated the user */
  readonly iss: string
  /**
   * the `id` of the provider of `providers` the user signed in with (an app with `providers`
   * only); the user is (`iss`, `sub`), never `sub` alone
   */
  readonly provider?: string | undefined
  /**
   * the client id the user signed in to: a session of another client of the same issuer (another
   * app sealed with the same secret) is not this app's
   */
  readonly clientId?: string | undefined
  /** the user's subject identifier at that issuer */
  readonly sub: string
  /** the provider's session id (`sid` claim), for logout */
  readonly sid?: string | undefined
  /** the ID token, for `id_token_hint` at logout; absent when `beforeSessionSaved` dropped it */
  readonly idToken?: string | undefined
  /** the user's claims when `beforeSessionSaved` chose them; otherwise read from the ID token */
  readonly user?: UserClaims | undefined
  readonly accessToken: string
  readonly tokenType: string
  /** when the access token expires, epoch seconds */
  readonly expiresAt?: number | undefined
  readonly refreshToken?: string | undefined
  readonly scope?: string | undefined
  /**
   * the session's DPoP key (a private P-256 JWK) when `dpop` is on: its tokens are bound to it
   * (RFC 9449)
   */
  readonly dpopKey?:
    | Readonly<{ kty: 'EC'; crv: 'P-256'; x: string; y: string; d: string }>
    | undefined
  /** tokens for other resources or scopes (`getAccessToken` with `resource`/`scope`), by target */
  readonly extraTokens?: Readonly<Record<string, ExtraToken>> | undefined
  /** when the provider authenticated the user (the ID token's `auth_time`), epoch seconds */
  readonly authTime?: number | undefined
  /** the authentication context class of the login (the ID token's `acr`) */
  readonly acr?: string | undefined
  /** when the user logged in, epoch seconds */
  readonly createdAt: number
  /** when the session was last written (its last recorded activity), epoch seconds */
  readonly updatedAt: number
}

/** An access token kept beside the session's own, for another resource or scope. */
export interface ExtraToken {
  readonly accessToken: string
  readonly tokenType: string
  readonly expiresAt: number | undefined
  readonly scope: string | undefined
}

/** A signed-in user's session, as the app sees it. */
export interface Session extends SessionData {
  /** the user's claims */
  readonly user: UserClaims
  /** when the session ends unless activity extends it (rolling), epoch seconds */
  readonly endsAt: number
}

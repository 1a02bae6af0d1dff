/**
 * The only module that imports openid-client. Discovery (lazy, cached, deduplicated, never caching
 * a failure), the authorization URL, the code exchange with every check enabled, refresh, and the
 * end-session URL. openid-client only checks what it is given (its own SECURITY.md): every call
 * here passes the expected state, PKCE verifier and nonce, and requires an ID token.
 */
import * as client from 'openid-client'
import {
  type AuthError,
  CallbackError,
  DiscoveryError,
  ProviderError,
  TokenExchangeError,
  TokenRefreshError,
  UserinfoError,
} from '../errors.js'
import { report } from '../logger.js'
import type { Settings } from '../options.js'

/** The ID token claims, as validated by openid-client. */
export type IdTokenClaims = Readonly<Record<string, unknown>> & {
  readonly iss: string
  readonly sub: string
  readonly aud: string | readonly string[]
  readonly exp: number
  readonly iat: number
}

/** What a successful code exchange or refresh yields. */
export interface TokenSet {
  readonly idToken: string | undefined
  readonly claims: IdTokenClaims | undefined
  readonly accessToken: string
  readonly tokenType: string
  readonly expiresAt: number | undefined
  readonly refreshToken: string | undefined
  readonly scope: string | undefined
}

/** The checks of one login transaction, all required. */
export interface CallbackChecks {
  readonly state: string
  readonly nonce: string
  readonly codeVerifier: string
}

/** A discovered provider, ready to use. */
export interface Provider {
  readonly config: client.Configuration
  /** whether the provider promises the RFC 9207 `iss` authorization response parameter */
  readonly issParameter: boolean
  /** whether the provider has an end_session_endpoint */
  readonly endSession: boolean
  /** whether the provider has a revocation_endpoint (RFC 7009) */
  readonly revocation: boolean
  /** the issuer identifier the provider's metadata declares (the `iss` of its tokens) */
  readonly issuer: string
  /** the provider's jwks_uri, for the signatures codeflow checks itself (logout tokens) */
  readonly jwksUri: string | undefined
  /** the one signing algorithm accepted from this provider (ID tokens, logout tokens) */
  readonly signingAlg: string
  /** seconds of clock skew tolerated in token timestamps */
  readonly clockTolerance: number
  /** the app's clock, epoch milliseconds */
  readonly clock: () => number
}

/**
 * The longest token (ID, access or refresh) accepted from the token endpoint: a hostile provider
 * must not fill the session with megabytes (a 502, not a 500 from the session's size cap).
 */
const MAX_TOKEN = 64 * 1024

/** Fresh random values for a login: PKCE verifier and challenge (S256), state and nonce. */
export async function loginSecrets(): Promise<CallbackChecks & { codeChallenge: string }> {
  const codeVerifier = client.randomPKCECodeVerifier()
  return {
    codeVerifier,
    codeChallenge: await client.calculatePKCECodeChallenge(codeVerifier),
    state: client.randomState(),
    nonce: client.randomNonce(),
  }
}

function pickAlg(offered: readonly string[] | undefined): string {
  const algs = (offered ?? []).filter((alg) => alg !== 'none' && !alg.startsWith('HS'))
  if (algs.length === 0 || algs.includes('RS256')) return 'RS256'
  return algs[0] as string
}

async function discover(settings: Settings): Promise<Provider> {
  const timeout = settings.httpTimeout / 1000
  const execute = settings.allowInsecureRequests ? [client.allowInsecureRequests] : []
  const discovered = await client.discovery(
    settings.issuer,
    settings.clientId,
    undefined,
    undefined,
    {
      execute,
      timeout,
    },
  )
  const server = discovered.serverMetadata()
  const alg = settings.idTokenSigningAlg ?? pickAlg(server.id_token_signing_alg_values_supported)
  const secret = settings.clientSecret
  const config = new client.Configuration(
    server,
    settings.clientId,
    {
      id_token_signed_response_alg: alg,
      [client.clockTolerance]: settings.clockTolerance,
      ...(secret === undefined
        ? { token_endpoint_auth_method: 'none' }
        : { client_secret: secret }),
    },
    secret === undefined ? client.None() : client.ClientSecretBasic(secret),
  )
  if (settings.allowInsecureRequests) client.allowInsecureRequests(config)
  // verify ID token signatures from the token endpoint too (OIDC Core 3.1.3.7 step 6 allows
  // relying on TLS instead; a careful user expects the signature checked)
  client.enableNonRepudiationChecks(config)
  config.timeout = timeout
  return {
    config,
    issParameter: server.authorization_response_iss_parameter_supported === true,
    endSession: typeof server.end_session_endpoint === 'string',
    revocation: typeof server.revocation_endpoint === 'string',
    issuer: server.issuer,
    jwksUri: server.jwks_uri,
    signingAlg: alg,
    clockTolerance: settings.clockTolerance,
    clock: settings.clock,
  }
}

/**
 * Discovery for one app: lazy, cached, deduplicated (concurrent first requests share one fetch),
 * and retried after a failure rather than caching it.
 */
export class ProviderCache {
  readonly #settings: Settings
  #pending: Promise<Provider> | undefined

  constructor(settings: Settings) {
    this.#settings = settings
  }

  /** The discovered provider; throws a `DiscoveryError` (503) while the provider is unreachable. */
  get(): Promise<Provider> {
    if (!this.#pending) {
      const pending = discover(this.#settings).catch((error: unknown) => {
        if (this.#pending === pending) this.#pending = undefined
        report(this.#settings.logger, {
          level: 'error',
          code: 'discovery_failed',
          message: `discovery of ${this.#settings.issuer.href} failed`,
          error,
        })
        throw new DiscoveryError('the identity provider is unavailable, try again shortly', {
          cause: error,
          timedOut: isTimeout(error),
        })
      })
      this.#pending = pending
    }
    return this.#pending
  }
}

/** The URL of the authorization request (response_type=code, S256 PKCE, state, nonce). */
export function authorizationUrl(
  provider: Provider,
  settings: Settings,
  secrets: CallbackChecks & { codeChallenge: string },
): string {
  return client.buildAuthorizationUrl(provider.config, {
    ...settings.authorizationParams,
    response_type: 'code',
    redirect_uri: settings.callbackUrl,
    scope: settings.scope,
    state: secrets.state,
    nonce: secrets.nonce,
    code_challenge: secrets.codeChallenge,
    code_challenge_method: 'S256',
  }).href
}

function isTimeout(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if ((e as { code?: unknown }).code === 'OAUTH_TIMEOUT' || e.name === 'TimeoutError') return true
  }
  return false
}

/**
 * What openid-client leaves unchecked in a token response: the size of its tokens, and an ID
 * token `iat` in the future (OIDC Core 3.1.3.7 step 10 lets the client reject tokens issued too
 * far from now; one from the future was not issued by an honest provider with a sane clock).
 */
function checkTokens(
  provider: Provider,
  response: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers,
): void {
  for (const token of [response.access_token, response.refresh_token, response.id_token]) {
    if (typeof token === 'string' && token.length > MAX_TOKEN) {
      throw new Error('a token of the response is too large')
    }
  }
  if (response.id_token === undefined) return
  const iat = response.claims()?.iat
  if (
    typeof iat !== 'number' ||
    iat > Math.floor(provider.clock() / 1000) + provider.clockTolerance
  ) {
    throw new Error('the ID token "iat" is missing or in the future')
  }
}

function tokenSet(
  provider: Provider,
  response: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers,
) {
  checkTokens(provider, response)
  const expiresIn = response.expiresIn()
  return {
    idToken: response.id_token,
    claims: response.claims() as IdTokenClaims | undefined,
    accessToken: response.access_token,
    tokenType: response.token_type,
    expiresAt:
      expiresIn === undefined ? undefined : Math.floor(provider.clock() / 1000) + expiresIn,
    refreshToken: response.refresh_token,
    scope: response.scope,
  }
}

/** Maps an openid-client or network error of the token endpoint to our hierarchy. */
function tokenEndpointError(error: unknown, refresh: boolean): AuthError {
  const Kind = refresh ? TokenRefreshError : TokenExchangeError
  if (isTimeout(error)) {
    return new Kind('the identity provider did not answer in time', 504, { cause: error })
  }
  if (error instanceof client.ResponseBodyError) {
    // invalid_grant at the code exchange is the browser's fault: a used, expired or foreign code
    const status = error.error === 'invalid_grant' ? (refresh ? 401 : 400) : 502
    return new Kind(`the identity provider refused the token request: ${error.error}`, status, {
      cause: error,
    })
  }
  return new Kind('the identity provider sent an invalid token response', 502, { cause: error })
}

/**
 * Validates the authorization response at the callback and exchanges the code. `params` are the
 * callback's query parameters; the redirect_uri comes from configuration only.
 */
export async function exchangeCode(
  provider: Provider,
  settings: Settings,
  params: URLSearchParams,
  checks: CallbackChecks,
): Promise<TokenSet> {
  // RFC 9207: checked here too so that a missing or foreign `iss` is a clean 400 (the browser
  // brought it), before openid-client repeats the check
  const iss = params.get('iss')
  if (iss === null ? provider.issParameter : iss !== provider.config.serverMetadata().issuer) {
    throw new CallbackError(
      iss === null
        ? 'the "iss" response parameter is missing'
        : 'unexpected "iss" response parameter',
      'invalid_iss',
    )
  }
  const currentUrl = new URL(settings.callbackUrl)
  for (const [key, value] of params) currentUrl.searchParams.append(key, value)
  try {
    const response = await client.authorizationCodeGrant(provider.config, currentUrl, {
      expectedState: checks.state,
      expectedNonce: checks.nonce,
      pkceCodeVerifier: checks.codeVerifier,
      idTokenExpected: true,
    })
    const tokens = tokenSet(provider, response)
    if (!tokens.idToken || !tokens.claims) {
      throw new TokenExchangeError('the identity provider sent no ID token')
    }
    return tokens
  } catch (error) {
    if (error instanceof TokenExchangeError) throw error
    if (error instanceof client.AuthorizationResponseError) {
      throw new ProviderError(error.error, error.error_description, { cause: error })
    }
    if (error instanceof client.ClientError && error.code === 'OAUTH_INVALID_RESPONSE') {
      // raised while validating the authorization response itself (e.g. no "code")
      if (!params.has('code'))
        throw new CallbackError('the "code" parameter is missing', 'missing_code', { cause: error })
    }
    throw tokenEndpointError(error, false)
  }
}

/** Uses a refresh token; the caller compares the new ID token's claims (OIDC Core 12.2). */
export async function refreshTokens(
  provider: Provider,
  refreshToken: string,
  params: Readonly<Record<string, string>> = {},
): Promise<TokenSet> {
  try {
    return tokenSet(provider, await client.refreshTokenGrant(provider.config, refreshToken, params))
  } catch (error) {
    throw tokenEndpointError(error, true)
  }
}

/**
 * The userinfo response for an access token, checked to be about `subject` (OIDC Core 5.3.4:
 * a different `sub` must not be used). Faults are 502/504; a mismatch is 502.
 */
export async function fetchUserinfo(
  provider: Provider,
  accessToken: string,
  subject: string,
): Promise<Record<string, unknown>> {
  try {
    return { ...(await client.fetchUserInfo(provider.config, accessToken, subject)) }
  } catch (error) {
    if (isTimeout(error)) {
      throw new UserinfoError('the identity provider did not answer in time', 504, {
        cause: error,
      })
    }
    throw new UserinfoError('the identity provider sent an invalid userinfo response', 502, {
      cause: error,
    })
  }
}

/** The RP-initiated logout URL, or `undefined` when the provider has no end_session_endpoint. */
export function endSessionUrl(
  provider: Provider,
  params: Record<string, string>,
): string | undefined {
  if (!provider.endSession) return undefined
  return client.buildEndSessionUrl(provider.config, params).href
}

/**
 * Revokes a refresh token (RFC 7009) when the provider has a revocation endpoint. Returns whether
 * it was revoked; throws on a provider fault (the caller decides whether that matters).
 */
export async function revokeRefreshToken(
  provider: Provider,
  refreshToken: string,
): Promise<boolean> {
  if (!provider.revocation) return false
  await client.tokenRevocation(provider.config, refreshToken, { token_type_hint: 'refresh_token' })
  return true
}

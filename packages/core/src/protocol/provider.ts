/**
 * The only module that imports openid-client. Discovery (lazy, cached, deduplicated, never caching
 * a failure), the authorization URL, the code exchange with every check enabled, refresh, and the
 * end-session URL. openid-client only checks what it is given (its own SECURITY.md): every call
 * here passes the expected state, PKCE verifier and nonce, and requires an ID token.
 */
import type * as NodeCrypto from 'node:crypto'
import * as client from 'openid-client'
import { builtin } from '../builtin.js'
import {
  AuthError,
  type AuthErrorOptions,
  AuthorizationRequestError,
  CallbackError,
  DiscoveryError,
  ProviderError,
  TokenExchangeError,
  TokenRefreshError,
  UserinfoError,
} from '../errors.js'
import { report } from '../logger.js'
import { type ClientAuth, type Settings, TLS_METHODS } from '../options.js'
import type { ClientCertificate } from './client-certificate.js'
import { type ClientKey, signingKey } from './client-key.js'
import { DPoPHandles, type DPoPKey } from './dpop.js'
import { ProviderKeys, verifySignature } from './keys.js'

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
  /** the provider's keys, for the signatures codeflow checks (ID tokens, logout tokens), or why it has none codeflow may use */
  readonly keys: ProviderKeys | string
  /** how the client authenticates at the token and revocation endpoints */
  readonly clientAuth: ClientAuth
  /** whether authorization requests are pushed (PAR, RFC 9126) */
  readonly par: boolean
  /**
   * the DPoP handles of the sessions that have a key (RFC 9449): made with `dpop` on, and still
   * used after it is turned off, until those sessions end
   */
  readonly dpop: DPoPHandles
  /** whether new logins, and every token request, must be DPoP-bound (`dpop`) */
  readonly dpopRequired: boolean
  /** the key that signs request objects (JAR, RFC 9101), when they are sent */
  readonly requestObjectKey:
    | { readonly key: CryptoKey; readonly kid?: string; readonly alg: string }
    | undefined
  /** the one signing algorithm accepted from this provider (ID tokens, logout tokens) */
  readonly signingAlg: string
  /** seconds of clock skew tolerated in token timestamps */
  readonly clockTolerance: number
  /** the app's clock, epoch milliseconds */
  readonly clock: () => number
  /** what the provider's options are named after for the operator: `''`, or `providers[1].` */
  readonly optionPrefix: string
}

/**
 * The longest token (ID, access or refresh) accepted from the token endpoint: a hostile provider
 * must not fill the session with megabytes (a 502, not a 500 from the session's size cap).
 */
const MAX_TOKEN = 64 * 1024

/** Node's crypto module (without a static import), or `undefined` where the runtime has none. */
const nodeCrypto = builtin<typeof NodeCrypto>('node:crypto')

/**
 * The S256 PKCE challenge of `verifier` (RFC 7636 §4.2: base64url of its SHA-256): with Node's
 * synchronous hash where there is one (a few µs; WebCrypto's digest, which openid-client uses, is
 * a thread-pool job of some 40 µs of CPU), else openid-client's.
 */
export async function pkceChallenge(verifier: string): Promise<string> {
  if (nodeCrypto)
    return nodeCrypto.createHash('sha256').update(verifier, 'utf8').digest('base64url')
  return client.calculatePKCECodeChallenge(verifier)
}

/** Fresh random values for a login: PKCE verifier and challenge (S256), state and nonce. */
export async function loginSecrets(): Promise<CallbackChecks & { codeChallenge: string }> {
  const codeVerifier = client.randomPKCECodeVerifier()
  return {
    codeVerifier,
    codeChallenge: await pkceChallenge(codeVerifier),
    state: client.randomState(),
    nonce: client.randomNonce(),
  }
}

/**
 * The client authentication when not configured: private_key_jwt with a client key and no secret
 * (where the provider offers it, or lists nothing); with a client certificate and neither, the
 * TLS method that fits it (self-signed or CA-issued), where offered (or nothing is listed), else
 * the other TLS method where offered; PKCE alone without a secret; otherwise
 * client_secret_basic where the provider offers it (the default of RFC 8414 when it says
 * nothing), else client_secret_post, else client_secret_jwt where it offers those.
 */
export function pickClientAuth(
  offered: readonly string[] | undefined,
  secret: string | undefined,
  key: ClientKey | undefined,
  certificate: ClientCertificate | undefined,
): ClientAuth {
  // a key beside a secret may be there for request objects only: the secret decides then
  if (
    key !== undefined &&
    secret === undefined &&
    (offered === undefined || offered.includes('private_key_jwt'))
  ) {
    return 'private_key_jwt'
  }
  // a certificate beside a secret may be there for bound tokens only (beside a key the provider
  // does not take for private_key_jwt, it authenticates)
  if (certificate !== undefined && secret === undefined) {
    const [fits, other] = certificate.selfSigned
      ? (['self_signed_tls_client_auth', 'tls_client_auth'] as const)
      : (['tls_client_auth', 'self_signed_tls_client_auth'] as const)
    if (offered === undefined || offered.includes(fits)) return fits
    if (offered.includes(other)) return other
  }
  if (secret === undefined) return 'none'
  if (offered === undefined || offered.includes('client_secret_basic')) return 'client_secret_basic'
  if (offered.includes('client_secret_post')) return 'client_secret_post'
  if (offered.includes('client_secret_jwt')) return 'client_secret_jwt'
  // the provider takes no secret: the key or the certificate beside it, where offered
  if (key !== undefined && offered.includes('private_key_jwt')) return 'private_key_jwt'
  const tls = TLS_METHODS.find((method) => certificate !== undefined && offered.includes(method))
  return tls ?? 'client_secret_basic'
}

/**
 * The name to sign with for a use whose algorithms the provider's metadata lists (`listed`,
 * absent: the key's own): the key's `alg` when listed, the other name of an Ed25519 signature when
 * only that one is (RFC 9864: EdDSA and Ed25519 name the same signature); else a
 * `DiscoveryError` saying why the provider would refuse every request.
 */
function listedAlg(alg: string, listed: unknown, metadata: string, what: string): string {
  if (!Array.isArray(listed) || listed.length === 0 || listed.includes(alg)) return alg
  const other = alg === 'EdDSA' ? 'Ed25519' : alg === 'Ed25519' ? 'EdDSA' : undefined
  if (other !== undefined && listed.includes(other)) return other
  throw new DiscoveryError(
    'sign-in is not possible: the identity provider is not configured correctly',
    {
      misconfigured: true,
      hint: `the provider accepts ${what} signed with ${listed.join(', ')} (${metadata}), but "clientPrivateKey" signs with ${alg}: give the JWK an "alg" it lists (an RSA key can sign PS256 or RS256), or a key of a type it accepts`,
    },
  )
}

function clientAuthentication(
  method: ClientAuth,
  secret: string | undefined,
  key: { key: CryptoKey; kid: string | undefined; alg: string } | undefined,
): client.ClientAuth {
  switch (method) {
    case 'private_key_jwt':
      // a fresh assertion per request (its own jti, exp a minute ahead), signed with the key's alg
      return client.PrivateKeyJwt(
        { key: key?.key as CryptoKey, kid: key?.kid },
        {
          // the header names the algorithm as the key's registration, or the provider's
          // metadata, does (EdDSA or Ed25519 for the same signature)
          [client.modifyAssertion]: (header) => {
            if (key) header.alg = key.alg
          },
        },
      )
    case 'client_secret_jwt':
      return client.ClientSecretJwt(secret as string)
    case 'client_secret_post':
      return client.ClientSecretPost(secret as string)
    case 'client_secret_basic':
      return client.ClientSecretBasic(secret as string)
    case 'tls_client_auth':
    case 'self_signed_tls_client_auth':
      // the certificate, presented by the connection (settings.clientCertificate.fetch),
      // authenticates; the body names the client
      return client.TlsClientAuth()
    default:
      return client.None()
  }
}

/** The provider's key set at `uri`, or why codeflow may not use it. */
function keySet(uri: string | undefined, settings: Settings): ProviderKeys | string {
  if (uri === undefined) return 'the identity provider publishes no jwks_uri to verify it with'
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    return "the identity provider's jwks_uri is not a URL"
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && settings.allowInsecureRequests)) {
    return "the identity provider's jwks_uri is not https"
  }
  return new ProviderKeys(
    url,
    settings.httpTimeout,
    settings.clock,
    settings.clientCertificate?.fetch,
  )
}

function pickAlg(offered: readonly string[] | undefined): string {
  const algs = (offered ?? []).filter((alg) => alg !== 'none' && !alg.startsWith('HS'))
  if (algs.length === 0 || algs.includes('RS256')) return 'RS256'
  return algs[0] as string
}

async function discover(settings: Settings): Promise<Provider> {
  const timeout = settings.httpTimeout / 1000
  const execute = settings.allowInsecureRequests ? [client.allowInsecureRequests] : []
  const certificate = settings.clientCertificate
  const discovered = await client.discovery(
    settings.issuer,
    settings.clientId,
    undefined,
    undefined,
    {
      execute,
      timeout,
      ...(certificate ? { [client.customFetch]: certificate.fetch as client.CustomFetch } : {}),
    },
  )
  const server = discovered.serverMetadata()
  const alg = settings.idTokenSigningAlg ?? pickAlg(server.id_token_signing_alg_values_supported)
  const secret = settings.clientSecret
  const key = settings.clientKey
  const clientAuth =
    settings.clientAuth ??
    pickClientAuth(server.token_endpoint_auth_methods_supported, secret, key, certificate)
  const config = new client.Configuration(
    server,
    settings.clientId,
    {
      id_token_signed_response_alg: alg,
      [client.clockTolerance]: settings.clockTolerance,
      token_endpoint_auth_method: clientAuth,
      ...(secret === undefined ? {} : { client_secret: secret }),
      // RFC 8705 §5: a client with a certificate calls the provider's mTLS endpoint aliases
      ...(certificate ? { use_mtls_endpoint_aliases: true } : {}),
    },
    clientAuthentication(
      clientAuth,
      secret,
      key && clientAuth === 'private_key_jwt'
        ? {
            key: await signingKey(key),
            kid: key.kid,
            alg: listedAlg(
              key.alg,
              server.token_endpoint_auth_signing_alg_values_supported,
              'token_endpoint_auth_signing_alg_values_supported',
              'client assertions',
            ),
          }
        : undefined,
    ),
  )
  if (settings.allowInsecureRequests) client.allowInsecureRequests(config)
  if (certificate) config[client.customFetch] = certificate.fetch as client.CustomFetch
  config.timeout = timeout
  const wrong = 'sign-in is not possible: the identity provider is not configured correctly'
  const par =
    settings.pushedAuthorizationRequests ?? server.require_pushed_authorization_requests === true
  if (par && typeof server.pushed_authorization_request_endpoint !== 'string') {
    throw new DiscoveryError(wrong, {
      misconfigured: true,
      hint: `"${settings.optionPrefix}pushedAuthorizationRequests" is on, but the provider's metadata has no pushed_authorization_request_endpoint`,
    })
  }
  const jar = settings.requestObjects ?? server.require_signed_request_object === true
  if (jar && key === undefined) {
    throw new DiscoveryError(wrong, {
      misconfigured: true,
      hint: `the provider requires signed request objects (require_signed_request_object): set "${settings.optionPrefix}clientPrivateKey" (its public half registered at the provider)`,
    })
  }
  return {
    config,
    issParameter: server.authorization_response_iss_parameter_supported === true,
    endSession: typeof server.end_session_endpoint === 'string',
    revocation: typeof server.revocation_endpoint === 'string',
    issuer: server.issuer,
    // ID token signatures are checked with these keys (tokenSet), the token endpoint's too: OIDC
    // Core 3.1.3.7 step 6 allows relying on TLS instead, a careful user expects them checked
    keys: keySet(server.jwks_uri, settings),
    clientAuth,
    par,
    dpop: new DPoPHandles(config),
    dpopRequired: settings.dpop,
    requestObjectKey:
      jar && key
        ? {
            key: await signingKey(key),
            // an algorithm the provider does not list would be refused at every login: said now
            alg: listedAlg(
              key.alg,
              server.request_object_signing_alg_values_supported,
              'request_object_signing_alg_values_supported',
              'request objects',
            ),
            ...(key.kid ? { kid: key.kid } : {}),
          }
        : undefined,
    signingAlg: alg,
    clockTolerance: settings.clockTolerance,
    clock: settings.clock,
    optionPrefix: settings.optionPrefix,
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

  /**
   * The discovered provider; throws a `DiscoveryError` (503 while the provider is unreachable, 502
   * when its answer says the configuration is wrong) whose `hint` says which.
   */
  get(): Promise<Provider> {
    if (!this.#pending) {
      const pending = discover(this.#settings).catch((cause: unknown) => {
        if (this.#pending === pending) this.#pending = undefined
        const error = discoveryError(this.#settings, cause)
        // once per failed discovery, however many requests it fails
        report(this.#settings.logger, {
          level: 'error',
          code: error.code,
          message: error.hint ?? error.message,
          error,
        })
        throw error
      })
      this.#pending = pending
    }
    return this.#pending
  }
}

/** The URL discovery reads the metadata from (OpenID Connect Discovery 1.0 §4). */
function discoveryUrl(issuer: URL): string {
  return `${issuer.href.replace(/\/$/, '')}/.well-known/openid-configuration`
}

/** The errors along `error`'s causes. */
function* causes(error: unknown): Generator<unknown> {
  for (let e = error, depth = 0; e !== undefined && depth < 8; depth++) {
    yield e
    e = e instanceof Error ? e.cause : undefined
  }
}

/** What a system error code of a failed request means, in words. */
const NETWORK_FAULTS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'the connection was refused',
  ECONNRESET: 'the connection was reset',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  ETIMEDOUT: 'the connection timed out',
}

/** What failed at discovery, for the operator: an outage, or a configuration to change. */
function discoveryError(settings: Settings, error: unknown): DiscoveryError {
  // what discovery decided itself (metadata that cannot serve the configuration)
  if (error instanceof DiscoveryError) return error
  const url = discoveryUrl(settings.issuer)
  // the provider's options, named as the app wrote them (`providers[1].issuer`)
  const p = settings.optionPrefix
  const unavailable = 'the identity provider is unavailable, try again shortly'
  const wrong = 'sign-in is not possible: the identity provider is not configured correctly'
  if (isTimeout(error)) {
    return new DiscoveryError(unavailable, {
      cause: error,
      timedOut: true,
      hint: `discovery at ${url} did not answer within "httpTimeout" (${settings.httpTimeout} ms)`,
    })
  }
  for (const e of causes(error)) {
    const code = (e as { code?: unknown }).code
    const cause = e instanceof Error ? e.cause : undefined
    if (code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' && cause instanceof Response) {
      const hint = `discovery at ${url} answered ${cause.status}`
      // a failing or overloaded provider (or one asking to wait) is an outage, not a mistake
      if (cause.status >= 500 || cause.status === 408 || cause.status === 429) {
        return new DiscoveryError(unavailable, {
          cause: error,
          hint: `${hint}: the provider is failing`,
        })
      }
      return new DiscoveryError(wrong, {
        cause: error,
        misconfigured: true,
        hint: `${hint}: check "${p}issuer" (the metadata is read from <issuer>/.well-known/openid-configuration)`,
      })
    }
    if (code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') {
      const said = (cause as { body?: { issuer?: unknown } } | undefined)?.body?.issuer
      return new DiscoveryError(wrong, {
        cause: error,
        misconfigured: true,
        hint: `the provider's metadata says issuer ${JSON.stringify(said)}, but "${p}issuer" is ${JSON.stringify(settings.issuer.href)}: set "${p}issuer" to exactly what the provider says`,
      })
    }
    if (
      code === 'OAUTH_RESPONSE_IS_NOT_JSON' ||
      code === 'OAUTH_PARSE_ERROR' ||
      code === 'OAUTH_INVALID_RESPONSE'
    ) {
      return new DiscoveryError(wrong, {
        cause: error,
        misconfigured: true,
        hint: `discovery at ${url} did not answer OpenID Provider metadata: check "${p}issuer"`,
      })
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return new DiscoveryError(unavailable, {
        cause: error,
        hint: `discovery at ${url} failed: the provider's TLS certificate is not for that host name: check "${p}issuer"`,
      })
    }
    if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) {
      return new DiscoveryError(unavailable, {
        cause: error,
        hint: `discovery at ${url} failed: the provider's TLS certificate is not trusted (${code}): for a private CA, set ${settings.clientCertificate ? `"${p}clientCertificate.ca" or ` : ''}NODE_EXTRA_CA_CERTS`,
      })
    }
    if (typeof code === 'string' && code in NETWORK_FAULTS) {
      return new DiscoveryError(unavailable, {
        cause: error,
        hint: `discovery at ${url} failed: ${NETWORK_FAULTS[code]}: is the provider running there? check "${p}issuer"`,
      })
    }
  }
  return new DiscoveryError(unavailable, {
    cause: error,
    hint: `discovery at ${url} failed: ${reasons(error)}`,
  })
}

/**
 * The URL the browser is sent to for the authorization request (response_type=code, S256 PKCE,
 * state, nonce): the parameters themselves; or, with JAR, a request object signed with the
 * client's key; or, with PAR, only `client_id` and the `request_uri` the provider answered the
 * pushed request with (the request object inside it with both). A PAR endpoint that fails is a
 * 502, one that does not answer in time a 504.
 */
export async function authorizationUrl(
  provider: Provider,
  settings: Settings,
  secrets: CallbackChecks & { codeChallenge: string; dpopKey?: DPoPKey | undefined },
  extra: Readonly<Record<string, string>> = settings.authorizationParams,
): Promise<string> {
  const dpop = await dpopOption(provider, secrets.dpopKey)
  const params: Record<string, string> = {
    ...extra,
    response_type: 'code',
    redirect_uri: settings.callbackUrl,
    scope: settings.scope,
    state: secrets.state,
    nonce: secrets.nonce,
    code_challenge: secrets.codeChallenge,
    code_challenge_method: 'S256',
    // the code is bound to the session's DPoP key (RFC 9449 §10); PAR binds it by its proof
    ...(dpop.DPoP && !provider.par ? { dpop_jkt: await dpop.DPoP.calculateThumbprint() } : {}),
  }
  const signer = provider.requestObjectKey
  let request: URLSearchParams | Record<string, string> = params
  if (signer) {
    const signed = await client.buildAuthorizationUrlWithJAR(
      provider.config,
      params,
      { key: signer.key, ...(signer.kid ? { kid: signer.kid } : {}) },
      {
        [client.modifyAssertion]: (header) => {
          header.alg = signer.alg
        },
      },
    )
    if (!provider.par) {
      // OIDC Core §6.1: response_type and scope (with openid) stay in the query too, as the
      // request object's; strict providers refuse a request without them
      signed.searchParams.set('response_type', 'code')
      signed.searchParams.set('scope', settings.scope)
      return signed.href
    }
    request = signed.searchParams
  }
  if (!provider.par) return client.buildAuthorizationUrl(provider.config, request).href
  try {
    return (await client.buildAuthorizationUrlWithPAR(provider.config, request, dpop)).href
  } catch (error) {
    throw parError(error)
  }
}

/**
 * openid-client's DPoP option for a request made for a session with `key`: a proof whenever the
 * session has a key (its tokens are bound to it, whether `dpop` is still on or not). A session
 * without one, with `dpop` on, began before it was turned on: it must sign in again (401, which
 * ends it), its tokens are not sender-constrained.
 */
async function dpopOption(
  provider: Provider,
  key: DPoPKey | undefined,
): Promise<{ DPoP?: client.DPoPHandle }> {
  if (key) return { DPoP: await provider.dpop.handle(key) }
  if (provider.dpopRequired) {
    throw new TokenRefreshError('the session has no DPoP key: it began before "dpop" was on', 401)
  }
  return {}
}

/** What a failed pushed authorization request answers: 504 when it did not answer, else 502. */
function parError(error: unknown): AuthorizationRequestError {
  if (isTimeout(error)) {
    return new AuthorizationRequestError('the identity provider did not answer in time', 504, {
      cause: error,
      hint: 'the pushed authorization request endpoint did not answer within "httpTimeout"',
    })
  }
  const refused = error instanceof client.ResponseBodyError
  return new AuthorizationRequestError('the identity provider refused the sign-in request', 502, {
    cause: error,
    hint: refused
      ? `the pushed authorization request endpoint refused the request with ${error.status} ${quoted(error.error)}${error.error === 'invalid_client' ? ': check "clientId" and the client\'s credentials ("clientAuth")' : ''}`
      : `the pushed authorization request failed: ${reasons(error)}`,
  })
}

function isTimeout(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if ((e as { code?: unknown }).code === 'OAUTH_TIMEOUT' || e.name === 'TimeoutError') return true
  }
  return false
}

/**
 * What openid-client leaves unchecked in a token response: the size of its tokens; the token type
 * (RFC 6749 §7.1: a client must not use a token type it does not understand: Bearer, in any case);
 * an ID token `iat` in the future (OIDC Core 3.1.3.7 step 10 lets the client reject tokens issued
 * too far from now; one from the future was not issued by an honest provider with a sane clock);
 * and the ID token's signature, with the provider's keys.
 */
async function checkTokens(
  provider: Provider,
  response: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers,
  dpop: boolean,
): Promise<void> {
  for (const token of [response.access_token, response.refresh_token, response.id_token]) {
    if (typeof token === 'string' && token.length > MAX_TOKEN) {
      throw new Error('a token of the response is too large')
    }
  }
  // a request with a proof must get a DPoP token: a Bearer one would not be sender-constrained
  // (RFC 9449 §5)
  const expected = dpop ? 'DPoP' : 'Bearer'
  if (response.token_type.toLowerCase() !== expected.toLowerCase()) {
    // the tokens are refused, so their refresh token would stay usable at the provider, unbound:
    // revoked, as well as may be (the refusal stands whatever the revocation does)
    if (response.refresh_token !== undefined) {
      await revokeRefreshToken(provider, response.refresh_token).catch(() => false)
    }
    throw new Error(
      `the token response has "token_type" ${JSON.stringify(response.token_type)}, not ${expected}`,
    )
  }
  if (response.id_token === undefined) return
  const iat = response.claims()?.iat
  if (
    typeof iat !== 'number' ||
    iat > Math.floor(provider.clock() / 1000) + provider.clockTolerance
  ) {
    throw new Error('the ID token "iat" is missing or in the future')
  }
  if (typeof provider.keys === 'string') throw new Error(provider.keys)
  await verifySignature(provider.keys, response.id_token, provider.signingAlg)
}

async function tokenSet(
  provider: Provider,
  response: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers,
  dpop: boolean,
): Promise<TokenSet> {
  await checkTokens(provider, response, dpop)
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

/**
 * Maps an openid-client or network error of the token endpoint to our hierarchy; our own errors
 * (the provider's keys unavailable) stay as they are.
 */
function tokenEndpointError(provider: Provider, error: unknown, refresh: boolean): AuthError {
  if (error instanceof AuthError) return error
  // only a refresh is ever retried (a code is spent once)
  const failure = (
    message: string,
    status: number,
    options: AuthErrorOptions & { retryable?: boolean },
  ): AuthError =>
    refresh
      ? new TokenRefreshError(message, status, options)
      : new TokenExchangeError(message, status, options)
  const grant = refresh ? 'the refresh' : 'the code exchange'
  if (isTimeout(error)) {
    return failure('the identity provider did not answer in time', 504, {
      cause: error,
      hint: `the token endpoint did not answer ${grant} within "httpTimeout" (${provider.config.timeout ?? 0} s)`,
    })
  }
  // the provider's own error_description stays in `cause`: it is the provider's text, not ours
  if (error instanceof client.ResponseBodyError) {
    // invalid_grant at the code exchange is the browser's fault: a used, expired or foreign code
    const status = error.error === 'invalid_grant' ? (refresh ? 401 : 400) : 502
    const hint =
      error.error === 'invalid_client'
        ? `the provider rejected the client credentials (invalid_client) at ${grant}: check "${provider.optionPrefix}clientId", ${credentialsHint(provider)} and "${provider.optionPrefix}clientAuth" (${provider.clientAuth} now)`
        : `the token endpoint refused ${grant} with ${error.status} ${quoted(error.error)}`
    return failure(`the identity provider refused the token request: ${error.error}`, status, {
      cause: error,
      hint,
      retryable: error.status >= 500,
    })
  }
  const answered = httpStatus(error)
  return failure('the identity provider sent an invalid token response', 502, {
    cause: error,
    hint:
      answered === undefined
        ? `the token endpoint could not be reached for ${grant}: ${reasons(error)}`
        : `the token endpoint's answer to ${grant} is not valid: ${reasons(error)}`,
    // no answer, or a 5xx: the grant may not have been processed; anything else was answered
    retryable: answered === undefined || answered >= 500,
  })
}

/** Which option holds the credentials of a client authentication method, and what must be true of it. */
function credentialsHint(provider: Provider): string {
  const { clientAuth: method, optionPrefix: p } = provider
  if (method === 'private_key_jwt') {
    return `"${p}clientPrivateKey" (the provider must hold its public half, under its kid)`
  }
  if (method === 'tls_client_auth') {
    return `"${p}clientCertificate" (the provider must trust its CA and have its subject registered)`
  }
  if (TLS_METHODS.includes(method)) {
    return `"${p}clientCertificate" (the provider must hold this self-signed certificate)`
  }
  return `"${p}clientSecret"`
}

/**
 * The HTTP status of the provider's answer an error is about; `undefined` when there was none (the
 * request failed: fetch's TypeError). An answer that did not validate counts as 200.
 */
function httpStatus(error: unknown): number | undefined {
  for (const e of causes(error)) {
    const cause = e instanceof Error ? e.cause : undefined
    if (cause instanceof Response) return cause.status
  }
  for (const e of causes(error)) if (e instanceof TypeError) return undefined
  return 200
}

/** Text that came from elsewhere, quoted on one line and cut short, for a log line or a page. */
function quoted(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text)
}

/** The messages along an error's causes, the most specific last, quoted on one line. */
function reasons(error: unknown): string {
  const messages: string[] = []
  for (const e of causes(error)) {
    if (e instanceof Error && e.message && !messages.includes(e.message)) messages.push(e.message)
  }
  return quoted(messages.slice(0, 3).join(': ') || String(error))
}

/**
 * Validates the authorization response at the callback and exchanges the code. `params` are the
 * callback's query parameters; the redirect_uri comes from configuration only.
 */
export async function exchangeCode(
  provider: Provider,
  settings: Settings,
  params: URLSearchParams,
  checks: CallbackChecks & { dpopKey?: DPoPKey | undefined },
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
  // a login started before "dpop" was turned on has no key: it starts again (400)
  if (provider.dpopRequired && !checks.dpopKey) {
    throw new CallbackError('the login began before DPoP was on: sign in again', 'dpop_key_missing')
  }
  const dpop = await dpopOption(provider, checks.dpopKey)
  try {
    const response = await client.authorizationCodeGrant(
      provider.config,
      currentUrl,
      {
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        pkceCodeVerifier: checks.codeVerifier,
        idTokenExpected: true,
      },
      undefined,
      dpop,
    )
    const tokens = await tokenSet(provider, response, dpop.DPoP !== undefined)
    if (!tokens.idToken || !tokens.claims) {
      throw new TokenExchangeError('the identity provider sent no ID token')
    }
    return tokens
  } catch (error) {
    if (error instanceof AuthError) throw error
    if (error instanceof client.AuthorizationResponseError) {
      throw new ProviderError(error.error, error.error_description, { cause: error })
    }
    if (error instanceof client.ClientError && error.code === 'OAUTH_INVALID_RESPONSE') {
      // raised while validating the authorization response itself (e.g. no "code")
      if (!params.has('code'))
        throw new CallbackError('the "code" parameter is missing', 'missing_code', { cause: error })
    }
    throw tokenEndpointError(provider, error, false)
  }
}

/** Uses a refresh token; the caller compares the new ID token's claims (OIDC Core 12.2). */
export async function refreshTokens(
  provider: Provider,
  refreshToken: string,
  params: Readonly<Record<string, string>> = {},
  dpopKey?: DPoPKey,
): Promise<TokenSet> {
  try {
    const dpop = await dpopOption(provider, dpopKey)
    return await tokenSet(
      provider,
      await client.refreshTokenGrant(provider.config, refreshToken, params, dpop),
      dpop.DPoP !== undefined,
    )
  } catch (error) {
    throw tokenEndpointError(provider, error, true)
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
  dpopKey?: DPoPKey,
): Promise<Record<string, unknown>> {
  const dpop = await dpopOption(provider, dpopKey)
  try {
    return { ...(await client.fetchUserInfo(provider.config, accessToken, subject, dpop)) }
  } catch (error) {
    if (error instanceof AuthError) throw error
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

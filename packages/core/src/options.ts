/**
 * The options of `createAuth`, validated once at start-up (a `ConfigurationError` names the
 * option at fault) and resolved into the settings every part of the core reads.
 */
import { ConfigurationError } from './errors.js'
import { type AuthLogger, consoleLogger } from './logger.js'
import {
  type ClientCertificate,
  ClientCertificateError,
  type ClientCertificateOptions,
  clientCertificate,
} from './protocol/client-certificate.js'
import {
  type ClientKey,
  ClientKeyError,
  clientKey,
  type PrivateJwk,
} from './protocol/client-key.js'
import { newestPasswordId, type SealKind } from './seal/seal.js'
import type { RevocationStore } from './session/revocation.js'
import type { SessionStore } from './session/store.js'
import type { SessionData, UserClaims } from './session/types.js'

/** What `beforeSessionSaved` receives and returns: the session about to be sealed at login. */
export interface SessionToSave {
  /** the user's claims (from the ID token); keep only what the app needs */
  readonly user: UserClaims
  /** the ID token; return `undefined` to drop it (logout then goes without `id_token_hint`) */
  readonly idToken: string | undefined
}

/** What `logoutUrl` is given to build a provider's logout URL. */
export interface LogoutUrlContext {
  /** the provider's issuer */
  readonly issuer: string
  /** its `end_session_endpoint`, when its metadata has one */
  readonly endSessionEndpoint: string | undefined
  /** the RP-Initiated Logout URL codeflow would send the browser to, when there is one */
  readonly standardUrl: string | undefined
  readonly clientId: string
  /** the session's ID token (`id_token_hint`), unless `beforeSessionSaved` dropped it */
  readonly idToken: string | undefined
  /** where the provider is to send the browser back: `postLogoutRedirect`, absolute */
  readonly postLogoutRedirectUri: string
  /**
   * the logout's `state`: a provider that sends it back with the browser lets a logout's
   * `returnTo` come through; without it the browser lands on `postLogoutRedirect`
   */
  readonly state: string
  /** the user's claims */
  readonly user: UserClaims
}

/**
 * Builds the URL a logout sends the browser to, for a provider whose logout is not RP-Initiated
 * Logout (Amazon Cognito's `/logout?client_id=…&logout_uri=…`, one without an
 * `end_session_endpoint`): an https URL (http on loopback with `allowInsecureRequests`), or
 * `undefined` to end the local session only.
 */
export type LogoutUrl = (
  context: LogoutUrlContext,
) => string | URL | undefined | Promise<string | URL | undefined>

/**
 * Called at every login before the session is sealed, to keep it small: return the claims to
 * keep, and the ID token or `undefined`. Tokens and timestamps are not the hook's to change.
 */
export type BeforeSessionSaved = (
  session: SessionToSave & { readonly tokens: Readonly<SessionData> },
) => SessionToSave | Promise<SessionToSave>

/** Paths of the routes codeflow serves, relative to the origin of `baseUrl`. */
export interface RoutePaths {
  /** starts a login; default `/login` */
  login?: string
  /** the redirect_uri the provider sends the browser back to; default `/callback` */
  callback?: string
  /** ends the session (GET shows a confirmation when cross-site, POST logs out); default `/logout` */
  logout?: string
  /**
   * where the provider POSTs logout tokens (OpenID Connect Back-Channel Logout 1.0), registered
   * as the client's `backchannel_logout_uri`; default `/backchannel-logout`
   */
  backchannelLogout?: string
  /**
   * what the provider loads in an iframe with `iss` and `sid` (OpenID Connect Front-Channel
   * Logout 1.0), registered as the client's `frontchannel_logout_uri`; default
   * `/frontchannel-logout`
   */
  frontchannelLogout?: string
}

/** Session settings. */
export interface SessionOptions {
  /** seconds a session lives after login, whatever the activity; default 7 days */
  absoluteDuration?: number
  /**
   * seconds of inactivity after which a session ends (rolling: activity extends it, up to the
   * absolute duration); `false` for none; default 1 day
   */
  idleDuration?: number | false
  /**
   * `true` (default): the cookie carries Max-Age, so the session survives a browser restart;
   * `false`: a browser-session cookie. Either way the server enforces the lifetimes itself.
   */
  persistent?: boolean
  /**
   * a server-side store (`createMemoryStore()`, `@codeflow/redis`): the cookie then holds only a
   * sealed reference; a logout deletes the data, so a copied cookie is dead afterwards
   */
  store?: SessionStore
  /**
   * where back-channel and front-channel logouts (and local logouts of cookie sessions) are
   * remembered, so that the sessions they end read as anonymous, a copied cookie too; every
   * session read checks it (one lookup). Default: a memory store per app in this process, which
   * other instances do not see: with several instances, share one (`createRedisRevocationStore`
   * from `@codeflow/redis`)
   */
  revocationStore?: RevocationStore
  /**
   * the most cookies one session may be split into; default 3 (about 12 KB, what Node's default
   * 16 KB header limit still accepts beside other cookies)
   */
  maxCookieChunks?: number
}

/**
 * The client one app is at one OpenID Provider: the issuer, the client id and the client's
 * credentials. `createAuth` takes these at its top level (one provider), or once per provider in
 * `providers`.
 */
export interface ClientOptions {
  /** the OpenID Provider's issuer identifier, e.g. `https://accounts.example.com` */
  issuer: string | URL
  /** the client id registered at the provider */
  clientId: string
  /**
   * the client secret; leave it out for a public client, which then relies on PKCE alone
   */
  clientSecret?: string
  /**
   * how the client authenticates at the token and revocation endpoints: `client_secret_basic`
   * (HTTP Basic), `client_secret_post` (in the form body; for providers that do not form-decode
   * Basic credentials), `client_secret_jwt` (an assertion signed with the secret, HS256),
   * `private_key_jwt` (an assertion signed with `clientPrivateKey`, RFC 7523),
   * `tls_client_auth` (the `clientCertificate`, issued by a CA the provider trusts, RFC 8705
   * §2.1), `self_signed_tls_client_auth` (a self-signed `clientCertificate` the provider holds,
   * §2.2) or `none` (a public client); default: `private_key_jwt` with a `clientPrivateKey` and
   * no `clientSecret` (when the provider offers it, or lists nothing), else, with a
   * `clientCertificate` and neither, the TLS method that fits it (self-signed or not) when the
   * provider offers it (or lists nothing), else `none` without a secret, else
   * `client_secret_basic` when the provider's
   * `token_endpoint_auth_methods_supported` lists it (or lists nothing), else the first of
   * `client_secret_post` and `client_secret_jwt` it lists
   */
  clientAuth?: ClientAuth
  /**
   * the client's private key, for `private_key_jwt`: a private JWK (its `alg`, else its key type,
   * picks the algorithm: RS256 for RSA, ES256/384/512 by the EC curve, EdDSA for Ed25519; its `kid`
   * names it to the provider), a PEM private key (PKCS#8 or PKCS#1/SEC1, unencrypted), or a
   * private `CryptoKey`; the provider holds the public half (its `jwks` or `jwks_uri` registration)
   */
  clientPrivateKey?: PrivateJwk | CryptoKey | string
  /**
   * the `kid` that names `clientPrivateKey` to the provider in the assertions' and request
   * objects' headers; default the JWK's own `kid` (a PEM key or a `CryptoKey` has none)
   */
  clientPrivateKeyId?: string
  /**
   * the client's TLS certificate and key (PEM), for mutual TLS (RFC 8705): presented on every
   * request to the provider (at its `mtls_endpoint_aliases` when it has them) and by `fetch` to
   * APIs, so that `tls_client_auth` and `self_signed_tls_client_auth` authenticate with it and
   * access tokens can be bound to it; `ca` adds CA certificates trusted for the servers'
   * certificates. Checked at start-up: the certificate and key must belong together and be
   * valid now. Node.js runtime only
   */
  clientCertificate?: ClientCertificateOptions
}

/**
 * The settings of one provider of `providers`: its client (`ClientOptions`), an `id` to name it,
 * and the protocol choices that may differ from the top level's (which are its defaults).
 */
export interface ProviderOptions extends ClientOptions {
  /**
   * names the provider in `resolveProvider`, `login({ provider })` and its sessions: 1 to 64
   * characters of A-Z a-z 0-9 _ - . (kept in every session, so keep it stable); default the
   * issuer, which must then be unique in `providers`
   */
  id?: string
  /**
   * the path of this provider's redirect_uri on `baseUrl` (register `baseUrl` + it there);
   * default `routes.callback`, shared by every provider. RFC 9700 §4.4.2: with several providers,
   * a provider's authorization responses must carry the RFC 9207 `iss` parameter or come to a
   * redirect_uri of that provider's own, so a response without `iss` to a shared callback is
   * refused (400): give a provider that does not send `iss` a `callbackPath` of its own
   */
  callbackPath?: string
  pushedAuthorizationRequests?: boolean
  requestObjects?: boolean
  dpop?: boolean
  idTokenSigningAlg?: string
  scope?: string
  authorizationParams?: Readonly<Record<string, string>>
}

/** What a `resolveProvider` function is given: the request, as the browser sent it. */
export interface ProviderRequest {
  /** the request's URL, as the browser saw it (host and path pick a tenant) */
  readonly url: URL
  readonly headers: Headers
}

/**
 * Picks the provider of a request from its host or path (one issuer per tenant): the `id` of one
 * of `providers`, or `undefined` when the request does not decide (then `/login?iss=` or the first
 * provider signs in, and a session of any provider is valid). Called for every login and every
 * session read outside codeflow's own routes, so it must be fast and synchronous.
 */
export type ResolveProvider = (request: ProviderRequest) => string | undefined

/** The options of an app that signs in with several providers. */
export interface ProvidersOptions {
  /**
   * the OpenID Providers users may sign in with (a workforce and a customer one, one per
   * tenant): each with its own client; `/login?iss=<issuer>`, `resolveProvider` or
   * `login({ provider })` picks one, the first by default. Discovery and keys are cached per
   * provider, for `maxCachedProviders` of them at once
   */
  providers: readonly ProviderOptions[]
  /** picks the provider from the request's host or path: see `ResolveProvider` */
  resolveProvider?: ResolveProvider
  /**
   * how many providers' discovery documents and keys are kept in memory at once (the least
   * recently used are fetched again when needed); default 100
   */
  maxCachedProviders?: number
}

/**
 * Everything `createAuth` accepts: `baseUrl`, `secret`, and either one provider's client at the
 * top level (`issuer` and `clientId` required, and its credentials) or several in `providers`
 * (then no client option at the top level). Which of the two is checked at start-up, the error
 * naming the option; the type keeps both optional so that `Partial<AuthOptions>` and spreads of
 * shared defaults stay easy.
 */
export interface AuthOptions
  extends CommonOptions,
    Partial<ClientOptions>,
    Partial<ProvidersOptions> {}

/** The options of `createAuth` besides the provider's client (see `AuthOptions`). */
export interface CommonOptions {
  /**
   * send the authorization request by Pushed Authorization Request (RFC 9126): its parameters go
   * to the provider's PAR endpoint, authenticated as the client, and the browser carries only
   * `client_id` and `request_uri`; default: when the provider's metadata says
   * `require_pushed_authorization_requests`
   */
  pushedAuthorizationRequests?: boolean
  /**
   * send the authorization request as a request object signed with `clientPrivateKey` (JAR,
   * RFC 9101), with PAR too when that is on; default: when the provider's metadata says
   * `require_signed_request_object`
   */
  requestObjects?: boolean
  /**
   * sender-constrained tokens by DPoP (RFC 9449): each session gets a key pair of its own, sealed
   * with it; the code exchange, the refresh, userinfo, PAR and `fetch` carry proofs with it, and
   * the provider must answer `token_type` DPoP; default false
   */
  dpop?: boolean
  /**
   * try a silent login (`prompt=none`) once per browser session, at the first page navigation
   * of a visitor without a session: a user already signed in at the provider comes back signed
   * in, anyone else lands on the page anonymous. API calls and codeflow's routes are never
   * redirected; default false
   */
  attemptSilentLogin?: boolean
  /** the app's public origin (and optional path prefix), e.g. `https://app.example.com` */
  baseUrl: string | URL
  /**
   * the sealing secret, at least 32 characters; or a map `{ 1: old, 2: new }` for rotation:
   * the highest id seals, every id unseals
   */
  secret: string | Readonly<Record<number | string, string>>
  /** route paths; defaults `/login`, `/callback`, `/logout` */
  routes?: RoutePaths
  /** the scope to request; must contain `openid`; default `openid profile email` */
  scope?: string
  /**
   * extra authorization request parameters, e.g. `{ prompt: 'consent', audience: '…' }`; the
   * protocol's own (state, nonce, PKCE, redirect_uri, response_type, client_id, scope) are refused
   */
  authorizationParams?: Readonly<Record<string, string>>
  /** where the provider sends the browser after logout, a path on `baseUrl`; default `/` */
  postLogoutRedirect?: string
  /** seconds of clock skew tolerated when checking token timestamps; default 30 */
  clockTolerance?: number
  /** milliseconds each request to the provider may take; default 5000 */
  httpTimeout?: number
  /**
   * receives what codeflow reports (rejected cookies, provider faults, failed logins), each with
   * a level, a stable code and a line that names the cause and what to change; default: warnings
   * and errors on the console; `false`: nothing
   */
  logger?: AuthLogger | false
  /**
   * allow an `http:` issuer; for development and tests against a local provider only
   * (default false)
   */
  allowInsecureRequests?: boolean
  /**
   * the ID token signing algorithm to accept; default: RS256 when the provider offers it,
   * otherwise the first algorithm it lists (never `none`)
   */
  idTokenSigningAlg?: string
  /** the session cookie's name; `__Host-` is prepended on https; default `codeflow` */
  cookieName?: string
  /** session lifetimes and cookie budget */
  session?: SessionOptions
  /** seconds a login may take from /login to /callback; default 600 */
  transactionTtl?: number
  /** the most logins one browser may have in progress at once; default 5 */
  maxTransactions?: number
  /** trims the session at login (claims filter, drop the ID token); see `BeforeSessionSaved` */
  beforeSessionSaved?: BeforeSessionSaved
  /**
   * builds the provider's logout URL, for a provider whose logout is not standard (see
   * `LogoutUrl`); default the provider's `end_session_endpoint` with `id_token_hint`,
   * `client_id`, `post_logout_redirect_uri` and `state`
   */
  logoutUrl?: LogoutUrl
  /** `getAccessToken` refreshes a token that expires within this many seconds; default 60 */
  refreshMargin?: number
  /**
   * fetch the userinfo endpoint at login and merge its claims into `user` (refused when its `sub`
   * differs from the ID token's); default false
   */
  fetchUserinfo?: boolean
  /**
   * the current time in milliseconds since the epoch, read for every time-based decision
   * (session lifetimes, rolling touches, transaction expiry, token expiry and refresh margins,
   * the refresh failure memory, logout token ages): for tests that move time on without sleeping;
   * openid-client's own checks of an ID token's `exp` and `nbf` keep the system clock; default
   * `Date.now`
   */
  clock?: () => number
}

/** How the client authenticates at the provider's token and revocation endpoints. */
export type ClientAuth =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'client_secret_jwt'
  | 'private_key_jwt'
  | 'tls_client_auth'
  | 'self_signed_tls_client_auth'
  | 'none'

const CLIENT_AUTH: readonly ClientAuth[] = [
  'client_secret_basic',
  'client_secret_post',
  'client_secret_jwt',
  'private_key_jwt',
  'tls_client_auth',
  'self_signed_tls_client_auth',
  'none',
]

/** The methods that authenticate with the client certificate (RFC 8705 §2). */
export const TLS_METHODS: readonly ClientAuth[] = ['tls_client_auth', 'self_signed_tls_client_auth']

/** The methods that authenticate with the client secret. */
const SECRET_METHODS: readonly ClientAuth[] = [
  'client_secret_basic',
  'client_secret_post',
  'client_secret_jwt',
]

/** The name of one of codeflow's routes. */
export type RouteName = keyof RoutePaths

/** The validated options with their defaults: what the core works from (never public). */
export interface Settings {
  /** the provider these settings are for: its `id` (default its issuer) */
  readonly providerId: string
  /** what its options are named after, for the operator: `''`, or `providers[1].` */
  readonly optionPrefix: string
  /** every provider's settings (the first is the app's own), in the order of `providers` */
  readonly providers: readonly Settings[]
  /** whether the app was given `providers` (sessions and transactions then name theirs) */
  readonly multipleProviders: boolean
  readonly resolveProvider: ResolveProvider | undefined
  readonly maxCachedProviders: number
  /**
   * whether another provider has this provider's callback path too: then its responses must name
   * their issuer (RFC 9207 `iss`)
   */
  readonly sharedCallback: boolean
  readonly issuer: URL
  /**
   * the issuer as the app wrote it (a provider's metadata and tokens spell it so, nearly always:
   * `issuer.href` may add a final slash)
   */
  readonly issuerName: string
  readonly clientId: string
  readonly clientSecret: string | undefined
  /** the configured method; `undefined`: chosen at discovery */
  readonly clientAuth: ClientAuth | undefined
  /** the client's private key (`clientPrivateKey`), checked and imported */
  readonly clientKey: ClientKey | undefined
  /** the client's TLS certificate (`clientCertificate`), checked, with its `fetch` */
  readonly clientCertificate: ClientCertificate | undefined
  /** `pushedAuthorizationRequests`; `undefined`: as the provider's metadata requires */
  readonly pushedAuthorizationRequests: boolean | undefined
  /** `requestObjects`; `undefined`: as the provider's metadata requires */
  readonly requestObjects: boolean | undefined
  readonly dpop: boolean
  readonly baseUrl: URL
  readonly origin: string
  /** one app in this process: its issuer, client and base URL */
  readonly appKey: string
  readonly passwords: Readonly<Record<string, string>>
  /**
   * the passwords of each kind of seal, by id: each secret kept apart by purpose, so that no seal
   * made for one purpose opens as another's
   */
  readonly sealKeys: Readonly<Record<SealKind, Readonly<Record<string, string>>>>
  /** the password id new seals use */
  readonly newestPasswordId: string
  readonly routes: Readonly<Required<RoutePaths>>
  /** which route each path is */
  readonly routeNames: ReadonlyMap<string, RouteName>
  readonly callbackUrl: string
  readonly scope: string
  readonly authorizationParams: Readonly<Record<string, string>>
  readonly postLogoutRedirectUrl: string
  /** the path of `postLogoutRedirectUrl`, where a logout through the provider ends */
  readonly postLogoutRedirectPath: string
  /** the app's home page: the base URL's path, with a trailing slash */
  readonly homeUrl: string
  readonly clockTolerance: number
  readonly httpTimeout: number
  readonly logger: AuthLogger | undefined
  readonly allowInsecureRequests: boolean
  readonly idTokenSigningAlg: string | undefined
  readonly secure: boolean
  readonly sessionCookieName: string
  readonly transactionCookiePrefix: string
  /** the short-lived cookie that carries a logout's `state` and `returnTo` through the provider */
  readonly logoutCookieName: string
  /** the cookie that remembers a silent login was tried in this browser session */
  readonly silentCookieName: string
  /** `attemptSilentLogin` */
  readonly attemptSilentLogin: boolean
  readonly absoluteDuration: number
  readonly idleDuration: number | false
  readonly persistent: boolean
  readonly store: SessionStore | undefined
  /** the app's own revocation store; `undefined`: the process's memory store of this app */
  readonly revocationStore: RevocationStore | undefined
  readonly beforeSessionSaved: BeforeSessionSaved | undefined
  readonly logoutUrl: LogoutUrl | undefined
  readonly refreshMargin: number
  readonly fetchUserinfo: boolean
  readonly maxCookieChunks: number
  readonly transactionTtl: number
  readonly maxTransactions: number
  /** the current time, epoch milliseconds */
  readonly clock: () => number
  /** not in production (`NODE_ENV` is not `production`): error pages show the operator's hint */
  readonly development: boolean
}

/** The authorization request parameters codeflow sets itself: never the app's. */
export const RESERVED_PARAMS: ReadonlySet<string> = new Set([
  'response_type',
  'client_id',
  'redirect_uri',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'scope',
  'response_mode',
  // a request object (RFC 9101) would carry its own redirect_uri, state and nonce
  'request',
  'request_uri',
])

const COOKIE_NAME = /^[A-Za-z0-9_-]{1,64}$/
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

function fail(option: string, message: string): never {
  throw new ConfigurationError(option, message)
}

function parseUrl(option: string, value: unknown): URL {
  if (typeof value !== 'string' && !(value instanceof URL)) fail(option, 'must be a URL string')
  let url: URL
  try {
    url = new URL(String(value))
  } catch {
    fail(option, `must be an absolute URL, got ${JSON.stringify(String(value))}`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail(option, 'must be an http(s) URL')
  if (url.username || url.password) fail(option, 'must not contain credentials')
  if (url.search || url.hash) fail(option, 'must not contain a query or fragment')
  return url
}

/** An integer between `min` and `max`, or `fallback` when unset; fails naming `option`. */
function integer(
  option: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(option, `must be an integer between ${min} and ${max}`)
  }
  return value
}

function positiveInt(option: string, value: unknown, fallback: number, max: number): number {
  return integer(option, value, fallback, 1, max)
}

function bool(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') fail(option, 'must be a boolean')
  return value
}

function fn<T>(option: string, value: T | undefined): T | undefined {
  if (value !== undefined && typeof value !== 'function') fail(option, 'must be a function')
  return value
}

/** An object with the methods `methods`, or undefined; fails naming `option` otherwise. */
function withMethods<T>(
  option: string,
  value: unknown,
  methods: readonly string[],
  kind: string,
): T | undefined {
  if (value === undefined) return undefined
  const object = value as Record<string, unknown> | null
  if (!object || methods.some((method) => typeof object[method] !== 'function')) {
    fail(option, `must be a ${kind} (${methods.join(', ')})`)
  }
  return value as T
}

function routePath(option: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback
  if (
    typeof value !== 'string' ||
    !/^\/[A-Za-z0-9\-._~/]*$/.test(value) ||
    value.includes('//') ||
    // a request URL's dot segments are resolved before routing: this path would never match
    /\/\.\.?(\/|$)/.test(value)
  ) {
    fail(option, 'must be a path starting with "/" of URL-safe characters, without "." segments')
  }
  return value.length > 1 && value.endsWith('/') ? value.slice(0, -1) : value
}

function passwords(value: unknown): Record<string, string> {
  const check = (option: string, secret: unknown) => {
    if (typeof secret !== 'string' || secret.length < 32) {
      fail(option, 'must be a string of at least 32 characters')
    }
  }
  if (typeof value === 'string') {
    check('secret', value)
    return { 1: value }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail('secret', 'must be a string of at least 32 characters or a map { id: secret }')
  }
  const entries = Object.entries(value)
  if (entries.length === 0) fail('secret', 'must not be an empty map')
  const map: Record<string, string> = {}
  for (const [id, secret] of entries) {
    if (!/^[1-9][0-9]{0,8}$/.test(id)) fail(`secret.${id}`, 'must be keyed by a positive integer')
    check(`secret.${id}`, secret)
    map[id] = secret as string
  }
  return map
}

/**
 * The Iron passwords of the seals of `kind`: each secret with the purpose in front. Iron derives
 * every seal's keys from its password (PBKDF2, with fresh salts), so distinct passwords give keys
 * that have nothing in common: a transaction seal cannot open as a session even if it claimed
 * to be one (better-auth CVE-2026-110864 was one key for every purpose).
 */
function sealKeys(
  kind: SealKind,
  secrets: Readonly<Record<string, string>>,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(secrets).map(([id, secret]) => [id, `codeflow/${kind}/${secret}`]),
  )
}

/** The settings of one provider's client: what differs from one provider to the next. */
type ClientSettings = Pick<
  Settings,
  | 'issuer'
  | 'issuerName'
  | 'clientId'
  | 'clientSecret'
  | 'clientAuth'
  | 'clientKey'
  | 'clientCertificate'
  | 'pushedAuthorizationRequests'
  | 'requestObjects'
  | 'dpop'
  | 'idTokenSigningAlg'
  | 'scope'
  | 'authorizationParams'
  | 'providerId'
  | 'optionPrefix'
> & { readonly callbackPath: string | undefined }

/** The protocol choices a provider of `providers` may make for itself (the top level's are defaults). */
const PROVIDER_CHOICES = [
  'pushedAuthorizationRequests',
  'requestObjects',
  'dpop',
  'idTokenSigningAlg',
  'scope',
  'authorizationParams',
] as const

const PROVIDER_ID = /^[A-Za-z0-9_.-]{1,64}$/

/**
 * Validates one provider's client (`o`: the top level's options, or one of `providers` over the
 * top level's choices): a `ConfigurationError` names the option, after `prefix`
 * (`providers[1].`) when `own` says the provider set it.
 */
function resolveClient(
  o: ClientOptions & Pick<ProviderOptions, (typeof PROVIDER_CHOICES)[number] | 'id'>,
  prefix: string,
  own: (option: string) => boolean,
  allowInsecureRequests: boolean,
  clock: (() => number) | undefined,
): ClientSettings {
  const fail = (option: string, message: string): never => {
    throw new ConfigurationError(
      own(option.split('.')[0] as string) ? prefix + option : option,
      message,
    )
  }
  const issuer = parseUrl(`${prefix}issuer`, o.issuer)
  if (issuer.protocol === 'http:' && !allowInsecureRequests) {
    fail('issuer', 'must be https (set "allowInsecureRequests" for a local development provider)')
  }
  if (typeof o.clientId !== 'string' || o.clientId.length === 0) {
    fail('clientId', 'must be a non-empty string')
  }
  if (
    o.clientSecret !== undefined &&
    (typeof o.clientSecret !== 'string' || o.clientSecret.length === 0)
  ) {
    fail('clientSecret', 'must be a non-empty string when given')
  }
  const { clientAuth } = o
  if (clientAuth !== undefined && !CLIENT_AUTH.includes(clientAuth)) {
    fail('clientAuth', `must be one of ${CLIENT_AUTH.map((m) => `"${m}"`).join(', ')}`)
  }
  let key: ClientKey | undefined
  const keyId = o.clientPrivateKeyId
  if (keyId !== undefined && (typeof keyId !== 'string' || keyId.length === 0)) {
    fail('clientPrivateKeyId', 'must be a non-empty string')
  }
  if (keyId !== undefined && o.clientPrivateKey === undefined) {
    fail('clientPrivateKeyId', 'names "clientPrivateKey", which is not set')
  }
  if (o.clientPrivateKey !== undefined) {
    try {
      key = clientKey(o.clientPrivateKey, keyId)
    } catch (error) {
      if (error instanceof ClientKeyError) fail('clientPrivateKey', error.message)
      throw error
    }
  }
  let certificate: ClientCertificate | undefined
  if (o.clientCertificate !== undefined) {
    try {
      certificate = clientCertificate(
        o.clientCertificate,
        typeof clock === 'function' ? clock() : Date.now(),
      )
    } catch (error) {
      if (error instanceof ClientCertificateError) fail(error.option, error.message)
      throw error
    }
  }
  if (
    (clientAuth === 'none' || (clientAuth !== undefined && TLS_METHODS.includes(clientAuth))) &&
    o.clientSecret !== undefined
  ) {
    fail(
      'clientSecret',
      `is not sent with clientAuth "${clientAuth}": remove it, or choose a method that uses it (client_secret_basic, client_secret_post, client_secret_jwt)`,
    )
  }
  if (clientAuth !== undefined && TLS_METHODS.includes(clientAuth) && certificate === undefined) {
    fail(
      'clientCertificate',
      `is required with clientAuth "${clientAuth}": give the client's certificate and key (PEM)`,
    )
  }
  if (clientAuth === 'self_signed_tls_client_auth' && certificate && !certificate.selfSigned) {
    fail(
      'clientCertificate.cert',
      'is issued by a CA, not self-signed: use clientAuth "tls_client_auth" for it, or give the self-signed certificate the provider holds',
    )
  }
  if (
    clientAuth !== undefined &&
    SECRET_METHODS.includes(clientAuth) &&
    o.clientSecret === undefined
  ) {
    fail('clientSecret', `is required with clientAuth "${clientAuth}"`)
  }
  for (const name of ['pushedAuthorizationRequests', 'requestObjects', 'dpop'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'boolean') fail(name, 'must be a boolean')
  }
  if (o.requestObjects === true && key === undefined) {
    fail('clientPrivateKey', 'is required with "requestObjects": it signs the request objects')
  }
  if (clientAuth === 'private_key_jwt' && key === undefined) {
    fail(
      'clientPrivateKey',
      'is required with clientAuth "private_key_jwt": give the private JWK whose public half the provider has',
    )
  }
  const scope = o.scope ?? 'openid profile email'
  if (typeof scope !== 'string' || !scope.split(' ').includes('openid')) {
    fail('scope', 'must be a space-separated string that contains "openid"')
  }
  const authorizationParams: Record<string, string> = {}
  for (const [name, value] of Object.entries(o.authorizationParams ?? {})) {
    if (RESERVED_PARAMS.has(name)) {
      fail(`authorizationParams.${name}`, 'is set by codeflow itself and cannot be overridden')
    }
    if (typeof value !== 'string') fail(`authorizationParams.${name}`, 'must be a string')
    if (name === 'max_age' && !/^\d{1,9}$/.test(value)) {
      fail('authorizationParams.max_age', 'must be a whole number of seconds')
    }
    authorizationParams[name] = value
  }
  const idTokenSigningAlg = o.idTokenSigningAlg
  if (
    idTokenSigningAlg !== undefined &&
    (typeof idTokenSigningAlg !== 'string' ||
      !/^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$/.test(idTokenSigningAlg))
  ) {
    fail('idTokenSigningAlg', 'must be an asymmetric JWS algorithm such as RS256 or ES256')
  }
  if (o.id !== undefined && (typeof o.id !== 'string' || !PROVIDER_ID.test(o.id))) {
    fail('id', 'must be 1 to 64 characters of A-Z a-z 0-9 _ - .')
  }
  return {
    issuer,
    issuerName: String(o.issuer),
    clientId: o.clientId,
    clientSecret: o.clientSecret,
    clientAuth,
    clientKey: key,
    clientCertificate: certificate,
    pushedAuthorizationRequests: o.pushedAuthorizationRequests,
    requestObjects: o.requestObjects,
    dpop: o.dpop ?? false,
    idTokenSigningAlg,
    scope,
    authorizationParams,
    providerId: o.id ?? issuer.href,
    optionPrefix: prefix,
    callbackPath: (o as ProviderOptions).callbackPath,
  }
}

/** The clients of `options`: the top level's, or each of `providers` over the top level's choices. */
function resolveClients(options: AuthOptions, allowInsecureRequests: boolean): ClientSettings[] {
  const top = options
  if (top.providers === undefined) {
    if (top.issuer === undefined) {
      fail('issuer', 'is required: the OpenID Provider\'s issuer URL (or give "providers")')
    }
    if (top.clientId === undefined) {
      fail('clientId', 'is required: the client id registered at the provider')
    }
    if (top.resolveProvider !== undefined) fail('resolveProvider', 'needs "providers"')
    if (top.maxCachedProviders !== undefined) fail('maxCachedProviders', 'needs "providers"')
    return [
      resolveClient(top as ClientOptions, '', () => true, allowInsecureRequests, options.clock),
    ]
  }
  if (!Array.isArray(top.providers) || top.providers.length === 0) {
    fail('providers', 'must be a non-empty array of providers ({ issuer, clientId, … })')
  }
  for (const name of CLIENT_OPTIONS) {
    if (top[name] !== undefined) {
      fail(name, 'is set per provider with "providers": move it into each of "providers"')
    }
  }
  const clients = top.providers.map((provider, index) => {
    const prefix = `providers[${index}].`
    if (provider === null || typeof provider !== 'object') {
      fail(`providers[${index}]`, 'must be an object ({ issuer, clientId, … })')
    }
    for (const key of Object.keys(provider)) {
      if (!PROVIDER_KEYS.has(key)) {
        fail(
          `providers[${index}].${key}`,
          `is not an option of a provider (${[...PROVIDER_KEYS].join(', ')}); the others are the app's, at the top level`,
        )
      }
    }
    const merged: Record<string, unknown> = { ...provider }
    for (const name of PROVIDER_CHOICES) merged[name] = provider[name] ?? top[name]
    return resolveClient(
      merged as unknown as ProviderOptions,
      prefix,
      (option) =>
        option in CLIENT_KEYS || (provider as Record<string, unknown>)[option] !== undefined,
      allowInsecureRequests,
      options.clock,
    )
  })
  const seen = new Set<string>()
  for (const [index, client] of clients.entries()) {
    if (seen.has(client.providerId)) {
      fail(
        `providers[${index}].id`,
        `${JSON.stringify(client.providerId)} names another provider too: give each provider its own "id"`,
      )
    }
    seen.add(client.providerId)
  }
  return clients
}

/** The options of `ClientOptions`, which an app with `providers` gives per provider. */
const CLIENT_OPTIONS = [
  'issuer',
  'clientId',
  'clientSecret',
  'clientAuth',
  'clientPrivateKey',
  'clientPrivateKeyId',
  'clientCertificate',
] as const
const CLIENT_KEYS: Readonly<Record<string, true>> = Object.fromEntries(
  [...CLIENT_OPTIONS, 'id', 'callbackPath'].map((name) => [name, true]),
)
/** What one of `providers` may hold. */
const PROVIDER_KEYS: ReadonlySet<string> = new Set([
  'id',
  ...CLIENT_OPTIONS,
  'callbackPath',
  ...PROVIDER_CHOICES,
])

/** Validates every option and resolves the defaults; throws a `ConfigurationError` naming the option. */
export function resolveOptions(options: AuthOptions): Settings {
  if (options === null || typeof options !== 'object') fail('options', 'must be an object')
  const allowInsecureRequests = options.allowInsecureRequests ?? false
  if (typeof allowInsecureRequests !== 'boolean') fail('allowInsecureRequests', 'must be a boolean')
  const clients = resolveClients(options, allowInsecureRequests)
  const first = clients[0] as ClientSettings
  if (options.attemptSilentLogin !== undefined && typeof options.attemptSilentLogin !== 'boolean') {
    fail('attemptSilentLogin', 'must be a boolean')
  }
  const { resolveProvider } = options
  if (resolveProvider !== undefined && typeof resolveProvider !== 'function') {
    fail('resolveProvider', 'must be a function (request) => provider id | undefined')
  }

  const baseUrl = parseUrl('baseUrl', options.baseUrl)
  const basePath = baseUrl.pathname.replace(/\/+$/, '')
  const secure = baseUrl.protocol === 'https:'
  if (!secure && !LOOPBACK.has(baseUrl.hostname)) {
    fail('baseUrl', 'must be https unless it is a loopback address (localhost, 127.0.0.1, [::1])')
  }

  const routes = {
    login: basePath + routePath('routes.login', options.routes?.login, '/login'),
    callback: basePath + routePath('routes.callback', options.routes?.callback, '/callback'),
    logout: basePath + routePath('routes.logout', options.routes?.logout, '/logout'),
    backchannelLogout:
      basePath +
      routePath(
        'routes.backchannelLogout',
        options.routes?.backchannelLogout,
        '/backchannel-logout',
      ),
    frontchannelLogout:
      basePath +
      routePath(
        'routes.frontchannelLogout',
        options.routes?.frontchannelLogout,
        '/frontchannel-logout',
      ),
  }
  if (new Set(Object.values(routes)).size !== Object.keys(routes).length) {
    fail('routes', 'must be distinct paths')
  }

  const postLogoutRedirect = options.postLogoutRedirect ?? '/'
  if (
    typeof postLogoutRedirect !== 'string' ||
    !postLogoutRedirect.startsWith('/') ||
    postLogoutRedirect.startsWith('//') ||
    postLogoutRedirect.includes('\\')
  ) {
    fail('postLogoutRedirect', 'must be a path on "baseUrl" starting with a single "/"')
  }

  const clockTolerance = options.clockTolerance ?? 30
  if (typeof clockTolerance !== 'number' || !(clockTolerance >= 0) || clockTolerance > 600) {
    fail('clockTolerance', 'must be a number of seconds between 0 and 600')
  }
  const httpTimeout = positiveInt('httpTimeout', options.httpTimeout, 5000, 120_000)

  if (
    options.logger !== undefined &&
    options.logger !== false &&
    typeof options.logger !== 'function'
  ) {
    fail('logger', 'must be a function, or false')
  }
  const cookieName = options.cookieName ?? 'codeflow'
  if (typeof cookieName !== 'string' || !COOKIE_NAME.test(cookieName)) {
    fail('cookieName', 'must be 1 to 64 characters of A-Z a-z 0-9 _ -')
  }
  if (cookieName.startsWith('_session') || cookieName.startsWith('_interaction')) {
    fail('cookieName', 'must not reuse an OpenID Provider cookie name')
  }
  // browsers give __Host-/__Secure- names (any case) rules of their own (RFC 6265bis §4.1.3):
  // on http such a cookie is dropped; on https codeflow adds __Host- itself
  if (/^__(host|secure)-/i.test(cookieName)) {
    fail('cookieName', 'must not start with "__Host-" or "__Secure-" (added on https)')
  }
  const prefix = secure ? '__Host-' : ''
  const secrets = passwords(options.secret)
  const appPath = `${baseUrl.origin}${basePath}`

  const { callbackPath: _callbackPath, ...firstClient } = first
  const settings: Settings = {
    ...firstClient,
    baseUrl,
    origin: baseUrl.origin,
    appKey: [...clients.map((c) => `${c.issuer.href}\n${c.clientId}`), appPath].join('\n'),
    passwords: secrets,
    sealKeys: {
      session: sealKeys('session', secrets),
      transaction: sealKeys('transaction', secrets),
      logout: sealKeys('logout', secrets),
    },
    newestPasswordId: newestPasswordId(secrets),
    routes,
    routeNames: new Map(
      Object.entries(routes).map(([name, path]) => [path, name as RouteName] as const),
    ),
    callbackUrl: baseUrl.origin + routes.callback,
    postLogoutRedirectUrl: appPath + postLogoutRedirect,
    postLogoutRedirectPath: new URL(appPath + postLogoutRedirect).pathname,
    homeUrl: `${appPath}/`,
    clockTolerance,
    httpTimeout,
    logger: options.logger === false ? undefined : (options.logger ?? consoleLogger()),
    allowInsecureRequests,
    secure,
    sessionCookieName: prefix + cookieName,
    transactionCookiePrefix: `${prefix}${cookieName}_tx.`,
    absoluteDuration: positiveInt(
      'session.absoluteDuration',
      options.session?.absoluteDuration,
      7 * 24 * 3600,
      400 * 24 * 3600,
    ),
    idleDuration:
      options.session?.idleDuration === false
        ? false
        : positiveInt(
            'session.idleDuration',
            options.session?.idleDuration,
            24 * 3600,
            400 * 24 * 3600,
          ),
    persistent: bool('session.persistent', options.session?.persistent, true),
    store: withMethods<SessionStore>(
      'session.store',
      options.session?.store,
      ['get', 'set', 'delete'],
      'SessionStore',
    ),
    revocationStore: withMethods<RevocationStore>(
      'session.revocationStore',
      options.session?.revocationStore,
      ['revoke', 'isRevoked', 'recordJti'],
      'RevocationStore',
    ),
    logoutCookieName: `${prefix}${cookieName}_logout`,
    silentCookieName: `${prefix}${cookieName}_silent`,
    attemptSilentLogin: options.attemptSilentLogin ?? false,
    beforeSessionSaved: fn('beforeSessionSaved', options.beforeSessionSaved),
    logoutUrl: fn('logoutUrl', options.logoutUrl),
    refreshMargin: integer('refreshMargin', options.refreshMargin, 60, 0, 3600),
    fetchUserinfo: bool('fetchUserinfo', options.fetchUserinfo, false),
    maxCookieChunks: positiveInt(
      'session.maxCookieChunks',
      options.session?.maxCookieChunks,
      3,
      10,
    ),
    transactionTtl: positiveInt('transactionTtl', options.transactionTtl, 600, 3600),
    maxTransactions: positiveInt('maxTransactions', options.maxTransactions, 5, 20),
    // read at call time, so that a test that replaces Date.now is followed
    clock: fn('clock', options.clock) ?? (() => Date.now()),
    development:
      (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
        ?.NODE_ENV !== 'production',
    providers: [],
    multipleProviders: clients.length > 1 || options.providers !== undefined,
    resolveProvider,
    maxCachedProviders: positiveInt('maxCachedProviders', options.maxCachedProviders, 100, 100_000),
    sharedCallback: false,
  }
  // each provider's callback path: its own, or the app's
  const callbacks = clients.map(({ callbackPath, optionPrefix }) =>
    callbackPath === undefined
      ? routes.callback
      : basePath + routePath(`${optionPrefix}callbackPath`, callbackPath, routes.callback),
  )
  const routeNames = new Map(settings.routeNames)
  for (const [index, callback] of callbacks.entries()) {
    const taken = routeNames.get(callback)
    if (taken !== undefined && taken !== 'callback') {
      fail(`${clients[index]?.optionPrefix}callbackPath`, `is the path of "routes.${taken}"`)
    }
    routeNames.set(callback, 'callback')
  }
  // each provider's settings: the app's, with that provider's client and callback
  const providers: Settings[] = clients.map(({ callbackPath: _path, ...client }, index) => {
    const callback = callbacks[index] as string
    return {
      ...settings,
      ...client,
      routes: { ...routes, callback },
      routeNames,
      callbackUrl: baseUrl.origin + callback,
      sharedCallback: callbacks.filter((path) => path === callback).length > 1,
    }
  })
  for (const provider of providers) {
    ;(provider as { providers: readonly Settings[] }).providers = providers
    Object.freeze(provider)
  }
  return providers[0] as Settings
}

/**
 * The example's configuration from the environment (examples/README.md), read without starting anything
 * and without importing the dev provider: a Next.js app reads it in every module instance (proxy,
 * pages, route handlers) and must compute the same issuer in each.
 */
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type {
  AuthOptions,
  ClientCertificateOptions,
  ClientOptions,
  ProviderOptions,
  ProvidersOptions,
  ResolveProvider,
} from '@codeflow/core'
import type { DevClient, DevProviderRequirements, DevProviderTls } from '@codeflow/dev-provider'
import {
  DEV_CA_CERT,
  DEV_CLIENT_CERTIFICATE,
  DEV_SELF_SIGNED_CERTIFICATE,
  DEV_SERVER_CERTIFICATE,
} from './dev-certificates.js'
import { type RedisConnection, redisConnection } from './redis.js'

/**
 * REDIS_URL (one server) or REDIS_CLUSTER_NODES (a cluster's seed nodes, comma-separated
 * `redis://host:port`): the connection, made on first use; neither: none.
 */
function redisOf(source: NodeJS.ProcessEnv): RedisConnection | undefined {
  const url = env('REDIS_URL', source)
  const nodes = env('REDIS_CLUSTER_NODES', source)
  if (url && nodes) {
    throw new EnvironmentError('set REDIS_URL or REDIS_CLUSTER_NODES, not both')
  }
  if (url) {
    if (!URL.canParse(url)) throw new EnvironmentError('REDIS_URL must be a URL')
    return redisConnection(url)
  }
  if (!nodes) return undefined
  const cluster = nodes.split(',').map((node) => node.trim())
  for (const node of cluster) {
    if (!URL.canParse(node) || !/^rediss?:$/.test(new URL(node).protocol)) {
      throw new EnvironmentError(
        `REDIS_CLUSTER_NODES must be comma-separated redis:// URLs (${JSON.stringify(node)} is not one)`,
      )
    }
  }
  return redisConnection({ cluster })
}

/** The development secret used when SESSION_SECRET is unset (refused in production). */
const DEV_SECRET = 'codeflow-example-development-secret-not-for-production'
/** The client the embedded dev provider registers for the example. */
export const DEV_CLIENT = { clientId: 'codeflow-example', clientSecret: 'codeflow-example-secret' }

/**
 * The embedded dev provider's client key, for OIDC_CLIENT_AUTH=private_key_jwt without
 * OIDC_CLIENT_PRIVATE_KEY: public in this repository, so used with the embedded provider only.
 */
export const DEV_CLIENT_KEY = {
  kty: 'OKP',
  crv: 'Ed25519',
  kid: 'codeflow-example-key',
  x: 'YteBjlxtrs1fUGXB3by2bjLisz9k-ERrq3I0POe8f00',
  d: 'PJNew6zCX17SwIafMXejoM1khSkWSAzwQ05nETFxI9w',
}

/** The public half of a private JWK: what the provider registers for the client. */
export function publicJwk(jwk: Record<string, unknown>): Record<string, unknown> {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rest } = jwk
  return rest
}

/** Thrown for an environment variable with a bad value; names the variable. */
export class EnvironmentError extends Error {}

/** An example's settings, before anything is started. */
export interface ExampleSettings {
  readonly port: number
  /** API_URL: the resource server `/api/call` calls */
  readonly apiUrl: string | undefined
  /** ADMIN_GROUP: what `groups` must include for `/admin` */
  readonly adminGroup: string | undefined
  /** STEP_UP_MAX_AGE: seconds `/step-up`'s authentication may be old */
  readonly stepUpMaxAge: number | undefined
  /** STEP_UP_ACR: the `acr` `/step-up` needs too */
  readonly stepUpAcr: string | undefined
  /** the address to listen on: HOST, else 127.0.0.1 for a loopback base URL, else every interface */
  readonly host: string | undefined
  readonly baseUrl: string
  readonly auth: AuthOptions
  /**
   * when OIDC_ISSUER is unset: the embedded dev provider to start on 127.0.0.1:`port` (0: any free
   * port, and the issuer in `auth` is only known once it runs) with `client` registered
   */
  readonly devProvider:
    | {
        readonly port: number
        readonly client: DevClient
        readonly require: DevProviderRequirements
        /** mutual TLS, for OIDC_CLIENT_AUTH=tls_client_auth or self_signed_tls_client_auth */
        readonly tls?: DevProviderTls
        /** the `groups` of each account: ADMIN_GROUP for a login id that starts with "admin" */
        readonly claims: (accountId: string) => Record<string, unknown>
        /** STEP_UP_ACR, which the embedded provider then offers (`acr_values_supported`) */
        readonly acrValues?: string[]
      }
    | undefined
  /**
   * when REDIS_URL or REDIS_CLUSTER_NODES is set: the session store (unless SESSION_STORE=cookie) and the logout
   * revocation store on it (connected on first use)
   */
  readonly redis: RedisConnection | undefined
}

/** How an example reads its settings. */
export interface SettingsOptions {
  /** the dev provider's port when DEV_PROVIDER_PORT is unset; default 0 (any free port) */
  devProviderPort?: number
  /** whether the development secret is refused; default: NODE_ENV is `production` */
  production?: boolean
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

function env(name: string, source: NodeJS.ProcessEnv): string | undefined {
  const value = source[name]
  return value === undefined || value === '' ? undefined : value
}

/**
 * SESSION_SECRET: one secret, or a JSON map `{"1": "old", "2": "new"}` to rotate (the highest id
 * seals, every id unseals).
 */
function secretOption(value: string): string | Record<string, string> {
  if (!value.startsWith('{')) return value
  try {
    const map: unknown = JSON.parse(value)
    if (map !== null && typeof map === 'object' && !Array.isArray(map)) {
      return map as Record<string, string>
    }
  } catch {
    // reported below
  }
  throw new EnvironmentError('SESSION_SECRET must be a secret or a JSON map {"1": "…", "2": "…"}')
}

/** A whole number of at least `min` (milliseconds or seconds, as the variable says). */
function wholeNumber(name: string, source: NodeJS.ProcessEnv, min: number): number | undefined {
  const value = env(name, source)
  if (value === undefined) return undefined
  const number = Number(value)
  if (!Number.isInteger(number) || number < min) {
    throw new EnvironmentError(`${name} must be a whole number of at least ${min}`)
  }
  return number
}

function seconds(name: string, source: NodeJS.ProcessEnv): number | undefined {
  const value = env(name, source)
  if (value === undefined) return undefined
  const number = Number(value)
  if (!Number.isInteger(number) || number < 1) {
    throw new EnvironmentError(`${name} must be a number of seconds`)
  }
  return number
}

/**
 * Session lifetimes: SESSION_ABSOLUTE_DURATION and SESSION_IDLE_DURATION (seconds, or `off` for
 * no idle expiry), SESSION_PERSISTENT (`false`: a browser-session cookie).
 */
function sessionTuning(source: NodeJS.ProcessEnv): {
  absoluteDuration?: number
  idleDuration?: number | false
  persistent?: boolean
} {
  const absoluteDuration = seconds('SESSION_ABSOLUTE_DURATION', source)
  const idle = env('SESSION_IDLE_DURATION', source)
  const idleDuration = idle === 'off' ? false : seconds('SESSION_IDLE_DURATION', source)
  const persistent = env('SESSION_PERSISTENT', source)
  if (persistent !== undefined && persistent !== 'true' && persistent !== 'false') {
    throw new EnvironmentError('SESSION_PERSISTENT must be true or false')
  }
  return {
    ...(absoluteDuration === undefined ? {} : { absoluteDuration }),
    ...(idleDuration === undefined ? {} : { idleDuration }),
    ...(persistent === undefined ? {} : { persistent: persistent === 'true' }),
  }
}

/** A `true`/`false` variable, or undefined when unset. */
function flag(name: string, source: NodeJS.ProcessEnv): boolean | undefined {
  const value = env(name, source)
  if (value === undefined) return undefined
  if (value !== 'true' && value !== 'false')
    throw new EnvironmentError(`${name} must be true or false`)
  return value === 'true'
}

/** A variable holding a JSON object, or undefined when unset. */
function jsonObject(
  name: string,
  source: NodeJS.ProcessEnv,
  what: string,
): Record<string, unknown> | undefined {
  const text = env(name, source)
  if (!text) return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new EnvironmentError(`${name} must be ${what}`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new EnvironmentError(`${name} must be ${what}`)
  }
  return value as Record<string, unknown>
}

/** One more provider of OIDC_PROVIDERS, with the hosts that pick it. */
interface ExtraProvider extends ProviderOptions {
  readonly hosts?: readonly string[]
}

const EXTRA_PROVIDER_KEYS = new Set([
  'id',
  'issuer',
  'clientId',
  'clientSecret',
  'clientAuth',
  'hosts',
])

/** OIDC_PROVIDERS: a JSON array of more providers (`id`, `issuer`, `clientId`, …, `hosts`). */
function extraProviders(source: NodeJS.ProcessEnv): ExtraProvider[] {
  const name = 'OIDC_PROVIDERS'
  const text = env(name, source)
  if (!text) return []
  const what = `${name} must be a JSON array of providers ({ "id", "issuer", "clientId", "clientSecret", "clientAuth", "hosts" })`
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new EnvironmentError(what)
  }
  if (!Array.isArray(value)) throw new EnvironmentError(what)
  return value.map((entry: unknown, index) => {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new EnvironmentError(what)
    }
    const unknown = Object.keys(entry).filter((key) => !EXTRA_PROVIDER_KEYS.has(key))
    if (unknown.length > 0) {
      throw new EnvironmentError(`${name}[${index}] has no member ${JSON.stringify(unknown[0])}`)
    }
    const { hosts } = entry as { hosts?: unknown }
    if (
      hosts !== undefined &&
      (!Array.isArray(hosts) || !hosts.every((host) => typeof host === 'string'))
    ) {
      throw new EnvironmentError(`${name}[${index}].hosts must be an array of host names`)
    }
    return entry as ExtraProvider
  })
}

/**
 * A `resolveProvider` that picks a provider by the request's host name (its `Host` header: the
 * app's own URLs stay on APP_BASE_URL), from `hosts`, provider id to host names; other hosts
 * leave the choice to the login. It keeps `hosts`, so a test harness can pass it on as
 * OIDC_PROVIDERS.
 */
export function resolveByHost(
  hosts: Readonly<Record<string, readonly string[]>>,
): ResolveProvider & { readonly hosts: Readonly<Record<string, readonly string[]>> } {
  const byHost = new Map<string, string>()
  for (const [id, names] of Object.entries(hosts)) {
    for (const name of names) byHost.set(name.toLowerCase(), id)
  }
  const resolve = ({ headers }: { headers: Headers }) => {
    const host = headers.get('host')
    if (host === null) return undefined
    return byHost.get(host.replace(/:\d+$/, '').toLowerCase())
  }
  return Object.assign(resolve, { hosts })
}

/** A PEM file named by `name`, read now. */
function pemFile(name: string, path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as { code?: string }).code ?? String(error)
    throw new EnvironmentError(`${name} names ${path}, which cannot be read (${code})`)
  }
}

/** OIDC_CLIENT_CERT and OIDC_CLIENT_CERT_KEY: the client certificate and key, from their files. */
function certificateFiles(source: NodeJS.ProcessEnv): ClientCertificateOptions | undefined {
  const cert = env('OIDC_CLIENT_CERT', source)
  const key = env('OIDC_CLIENT_CERT_KEY', source)
  if (cert === undefined && key === undefined) return undefined
  if (cert === undefined || key === undefined) {
    throw new EnvironmentError('OIDC_CLIENT_CERT and OIDC_CLIENT_CERT_KEY must be set together')
  }
  return { cert: pemFile('OIDC_CLIENT_CERT', cert), key: pemFile('OIDC_CLIENT_CERT_KEY', key) }
}

/**
 * How the embedded provider registers a client certificate: its subject (RFC 4514) for
 * tls_client_auth, the certificate itself (a JWK with `x5c`) for self_signed_tls_client_auth.
 */
function certificateRegistration(pem: string | Uint8Array): {
  subject: string
  jwk: Record<string, unknown>
} {
  const certificate = new X509Certificate(typeof pem === 'string' ? pem : Buffer.from(pem))
  return {
    subject: certificate.subject.split('\n').filter(Boolean).reverse().join(','),
    jwk: {
      ...certificate.publicKey.export({ format: 'jwk' }),
      x5c: [certificate.raw.toString('base64')],
    },
  }
}

/**
 * Reads the example's settings from `source` (default `process.env`): PORT, APP_BASE_URL,
 * OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_CLIENT_AUTH, OIDC_CLIENT_PRIVATE_KEY,
 * OIDC_CLIENT_CERT, OIDC_CLIENT_CERT_KEY, OIDC_SCOPE, OIDC_ID_TOKEN_SIGNING_ALG,
 * SESSION_SECRET, SESSION_ABSOLUTE_DURATION, SESSION_IDLE_DURATION, SESSION_PERSISTENT,
 * REDIS_URL or REDIS_CLUSTER_NODES, SESSION_STORE (`redis`, the default with either, or `cookie`),
 * DEV_PROVIDER_PORT.
 * Without OIDC_ISSUER the issuer is the embedded dev provider's, `http://127.0.0.1:<its port>`.
 */
export function readExampleSettings(
  source: NodeJS.ProcessEnv = process.env,
  options: SettingsOptions = {},
): ExampleSettings {
  const port = Number(env('PORT', source) ?? 3000)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new EnvironmentError('PORT must be a port number')
  }
  const baseUrl = (env('APP_BASE_URL', source) ?? `http://localhost:${port}`).replace(/\/+$/, '')
  if (!URL.canParse(baseUrl)) throw new EnvironmentError('APP_BASE_URL must be a URL')
  const production = options.production ?? source.NODE_ENV === 'production'
  const secret = env('SESSION_SECRET', source)
  if (!secret && production) {
    throw new EnvironmentError('SESSION_SECRET must be set when NODE_ENV=production')
  }
  const redis = redisOf(source)

  let issuer = env('OIDC_ISSUER', source)
  let devProvider: ExampleSettings['devProvider']
  let clientId = env('OIDC_CLIENT_ID', source)
  let clientSecret = env('OIDC_CLIENT_SECRET', source)
  let scope = env('OIDC_SCOPE', source)
  // checked by createAuth, whose error names the option
  const clientAuth = env('OIDC_CLIENT_AUTH', source) as AuthOptions['clientAuth']
  let clientPrivateKey = jsonObject('OIDC_CLIENT_PRIVATE_KEY', source, 'a private JWK as JSON')
  const apiUrl = env('API_URL', source)
  if (apiUrl !== undefined && !URL.canParse(apiUrl))
    throw new EnvironmentError('API_URL must be a URL')
  const adminGroup = env('ADMIN_GROUP', source)
  const stepUpMaxAge = wholeNumber('STEP_UP_MAX_AGE', source, 0)
  const stepUpAcr = env('STEP_UP_ACR', source)
  if (stepUpAcr !== undefined && !/^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/.test(stepUpAcr)) {
    throw new EnvironmentError('STEP_UP_ACR must be one acr value (no spaces or quotes)')
  }
  const silent = flag('ATTEMPT_SILENT_LOGIN', source)
  const par = flag('OIDC_PAR', source)
  const jar = flag('OIDC_JAR', source)
  const dpop = flag('OIDC_DPOP', source)
  let clientCertificate = certificateFiles(source)
  const tlsAuth = clientAuth === 'tls_client_auth' || clientAuth === 'self_signed_tls_client_auth'
  let tls: DevProviderTls | undefined
  let authorizationParams: Record<string, string> | undefined
  if (!issuer) {
    const devPort = Number(env('DEV_PROVIDER_PORT', source) ?? options.devProviderPort ?? 0)
    if (!Number.isInteger(devPort) || devPort < 0 || devPort > 65535) {
      throw new EnvironmentError('DEV_PROVIDER_PORT must be a port number')
    }
    if (clientAuth === 'private_key_jwt' || jar) clientPrivateKey ??= DEV_CLIENT_KEY
    if (tlsAuth || clientCertificate) {
      // mutual TLS at the provider's endpoint aliases, on a listener of its own: the browser
      // keeps seeing http, the app presents the dev client certificate (or OIDC_CLIENT_CERT)
      clientCertificate ??=
        clientAuth === 'self_signed_tls_client_auth'
          ? DEV_SELF_SIGNED_CERTIFICATE
          : DEV_CLIENT_CERTIFICATE
      clientCertificate = { ...clientCertificate, ca: DEV_CA_CERT }
      tls = { ...DEV_SERVER_CERTIFICATE, clientCa: DEV_CA_CERT, endpointAliases: true }
    }
    const registered = clientCertificate && certificateRegistration(clientCertificate.cert)
    const jwks = [
      ...(clientPrivateKey ? [publicJwk(clientPrivateKey)] : []),
      ...(registered ? [registered.jwk] : []),
    ]
    const group = adminGroup ?? 'admin'
    devProvider = {
      port: devPort,
      ...(tls ? { tls } : {}),
      // sign in as "admin" (or any id starting with it) to see /admin
      claims: (accountId: string) => ({
        groups: accountId.startsWith('admin') ? [group, 'users'] : ['users'],
      }),
      ...(stepUpAcr ? { acrValues: [stepUpAcr] } : {}),
      // OIDC_PAR=true and OIDC_JAR=true make the embedded provider require them as well
      require: { pushedAuthorizationRequests: par ?? false, requestObjects: jar ?? false },
      client: {
        ...DEV_CLIENT,
        // the embedded provider requires the method the app is told to use
        ...(clientAuth ? { tokenEndpointAuthMethod: clientAuth } : {}),
        // OIDC_DPOP=true: the embedded provider issues this client DPoP-bound tokens only
        ...(dpop ? { dpopBoundAccessTokens: true } : {}),
        ...(jwks.length > 0 ? { jwks: { keys: jwks } } : {}),
        // with a certificate, the embedded provider binds the tokens to it (RFC 8705 §3)
        ...(registered
          ? { tlsClientAuthSubjectDn: registered.subject, certificateBoundAccessTokens: true }
          : {}),
        redirectUris: [`${baseUrl}/callback`],
        postLogoutRedirectUris: [`${baseUrl}/`],
        backchannelLogoutUri: `${baseUrl}/backchannel-logout`,
        backchannelLogoutSessionRequired: true,
      },
    }
    issuer = `http://127.0.0.1:${devPort}`
    clientId ??= DEV_CLIENT.clientId
    // a TLS method authenticates with the certificate alone
    if (!tlsAuth) clientSecret ??= DEV_CLIENT.clientSecret
    scope ??= 'openid profile email offline_access'
    // OIDC Core §11: offline_access needs prompt=consent. The embedded provider adds it to a
    // plain authorization request itself, but cannot to a pushed one or a request object
    if (par || jar) authorizationParams = { prompt: 'consent' }
  }
  if (!clientId) throw new EnvironmentError('OIDC_CLIENT_ID must be set with OIDC_ISSUER')
  const extras = extraProviders(source)
  const extraIssuers = extras
    .map((extra, index) => {
      const url = URL.canParse(String(extra.issuer)) ? new URL(String(extra.issuer)) : undefined
      if (url?.protocol === 'http:' && !insecureLoopback(url)) {
        throw new EnvironmentError(
          `OIDC_PROVIDERS[${index}].issuer must be https (http only on localhost, 127.0.0.1 or [::1])`,
        )
      }
      return url
    })
    .filter((url) => url !== undefined)
  const client: ClientOptions = {
    issuer,
    clientId,
    ...(clientSecret ? { clientSecret } : {}),
    ...(clientAuth ? { clientAuth } : {}),
    ...(clientPrivateKey ? { clientPrivateKey } : {}),
    ...(clientCertificate ? { clientCertificate } : {}),
  }
  let issuerUrl: URL
  try {
    issuerUrl = new URL(issuer)
  } catch {
    throw new EnvironmentError('OIDC_ISSUER must be a URL')
  }
  const host =
    env('HOST', source) ?? (LOOPBACK.has(new URL(baseUrl).hostname) ? '127.0.0.1' : undefined)
  // SESSION_STORE=cookie keeps cookie sessions while REDIS_URL holds the logout revocations
  const sessionStore = env('SESSION_STORE', source) ?? (redis ? 'redis' : 'cookie')
  if (sessionStore !== 'redis' && sessionStore !== 'cookie') {
    throw new EnvironmentError('SESSION_STORE must be redis or cookie')
  }
  if (sessionStore === 'redis' && !redis) {
    throw new EnvironmentError('SESSION_STORE=redis needs REDIS_URL or REDIS_CLUSTER_NODES')
  }
  const session = {
    ...(redis && sessionStore === 'redis' ? { store: redis.store } : {}),
    ...(redis ? { revocationStore: redis.revocationStore } : {}),
    ...sessionTuning(source),
  }
  const idTokenSigningAlg = env('OIDC_ID_TOKEN_SIGNING_ALG', source)
  const httpTimeout = wholeNumber('OIDC_HTTP_TIMEOUT', source, 1)
  const refreshMargin = wholeNumber('ACCESS_TOKEN_REFRESH_MARGIN', source, 0)
  const fetchUserinfo = env('OIDC_FETCH_USERINFO', source)
  if (fetchUserinfo !== undefined && fetchUserinfo !== 'true' && fetchUserinfo !== 'false') {
    throw new EnvironmentError('OIDC_FETCH_USERINFO must be true or false')
  }

  const choices = {
    scope: scope ?? 'openid profile email',
    ...(idTokenSigningAlg ? { idTokenSigningAlg } : {}),
    ...(authorizationParams ? { authorizationParams } : {}),
    ...(par === undefined ? {} : { pushedAuthorizationRequests: par }),
    ...(jar === undefined ? {} : { requestObjects: jar }),
    ...(dpop === undefined ? {} : { dpop }),
  }
  return {
    port,
    apiUrl,
    adminGroup,
    stepUpMaxAge,
    stepUpAcr,
    host,
    baseUrl,
    devProvider,
    redis,
    auth: {
      ...(Object.keys(session).length > 0 ? { session } : {}),
      ...(silent === undefined ? {} : { attemptSilentLogin: silent }),
      ...(httpTimeout === undefined ? {} : { httpTimeout }),
      ...(refreshMargin === undefined ? {} : { refreshMargin }),
      ...(fetchUserinfo === undefined ? {} : { fetchUserinfo: fetchUserinfo === 'true' }),
      // the choices of OIDC_SCOPE, OIDC_PAR and the like are the first provider's alone
      ...clients({ ...client, ...choices }, extras),
      baseUrl,
      secret: secret ? secretOption(secret) : DEV_SECRET,
      // http issuers only on loopback, for development and tests (examples/README.md)
      allowInsecureRequests: [issuerUrl, ...extraIssuers].some(insecureLoopback),
    },
  }
}

/** An issuer as the core names a provider without an `id`: its URL's `href`. */
function issuerHref(issuer: string | URL): string {
  return URL.canParse(String(issuer)) ? new URL(String(issuer)).href : String(issuer)
}

function insecureLoopback(url: URL): boolean {
  return url.protocol === 'http:' && LOOPBACK.has(url.hostname)
}

/**
 * The app's client at its provider, at the top level; with OIDC_PROVIDERS, the first of
 * `providers`, and a `resolveProvider` by the hosts they list.
 */
function clients(
  client: ProviderOptions,
  extras: readonly ExtraProvider[],
): ProvidersOptions | ClientOptions {
  if (extras.length === 0) return client
  const hosts: Record<string, string[]> = {}
  const providers = extras.map(({ hosts: names, ...provider }) => {
    // keyed as the core names a provider without an id: by its issuer's href
    if (names !== undefined) hosts[provider.id ?? issuerHref(provider.issuer)] = [...names]
    return provider
  })
  return {
    providers: [client, ...providers],
    ...(Object.keys(hosts).length > 0 ? { resolveProvider: resolveByHost(hosts) } : {}),
  }
}

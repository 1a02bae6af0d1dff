import { AsyncLocalStorage } from 'node:async_hooks'
import { randomBytes, type X509Certificate } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { format, stripVTControlCharacters } from 'node:util'
import {
  CompactSign,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK as JoseJWK,
} from 'jose'
import Provider, {
  type ClientMetadata,
  type Configuration,
  type errors,
  interactionPolicy,
  type JWK,
  type KoaContextWithOIDC,
} from 'oidc-provider'
import {
  checkAccountClaims,
  claimsConfiguration,
  createFindAccount,
  type ExtraClaims,
  extraClaimNames,
} from './accounts.js'
import { createMemoryAdapter, type RefreshFailure } from './memory-adapter.js'
import { logoutSource, postLogoutSuccessSource, renderError } from './pages.js'

export type { ExtraClaims } from './accounts.js'
export {
  type CertificateOptions,
  createCertificateAuthority,
  createSelfSignedCertificate,
  type DevCertificate,
  type DevCertificateAuthority,
} from './certificates.js'
export type { RefreshFailure } from './memory-adapter.js'
export type { Provider }

/** A client (relying party) registered with the dev provider at start. */
export interface DevClient {
  clientId: string
  /** Absent for a public client, which then authenticates with `token_endpoint_auth_method: none`. */
  clientSecret?: string
  /**
   * How the client must authenticate at the token, revocation and PAR endpoints: default
   * `client_secret_basic` with a secret, `none` without; `client_secret_post` and
   * `client_secret_jwt` need `clientSecret`, `private_key_jwt` needs `jwks`;
   * `tls_client_auth` (a certificate from `tls.clientCa` with the subject
   * `tlsClientAuthSubjectDn`) and `self_signed_tls_client_auth` (a certificate in `jwks`'s `x5c`)
   * need `tls` (RFC 8705).
   */
  tokenEndpointAuthMethod?:
    | 'client_secret_basic'
    | 'client_secret_post'
    | 'client_secret_jwt'
    | 'private_key_jwt'
    | 'tls_client_auth'
    | 'self_signed_tls_client_auth'
    | 'none'
  /**
   * The client's public keys (a JWK Set), for `private_key_jwt`, signed request objects, and the
   * certificates (`x5c`) of `self_signed_tls_client_auth`.
   */
  jwks?: { keys: Array<Record<string, unknown>> }
  /** The subject (RFC 4514) of the client's certificate, for `tls_client_auth`. */
  tlsClientAuthSubjectDn?: string
  /**
   * Only certificate-bound access and refresh tokens for this client
   * (`tls_client_certificate_bound_access_tokens`, RFC 8705 §3): a token request without a
   * client certificate is refused. Needs `tls`.
   */
  certificateBoundAccessTokens?: boolean
  /** The one algorithm its request objects may be signed with (`request_object_signing_alg`). */
  requestObjectSigningAlg?: string
  /** Only DPoP-bound access tokens for this client (`dpop_bound_access_tokens`, RFC 9449). */
  dpopBoundAccessTokens?: boolean
  redirectUris: string[]
  postLogoutRedirectUris?: string[]
  /** Where the provider POSTs a logout token when the user signs out (OIDC Back-Channel Logout 1.0). */
  backchannelLogoutUri?: string
  /** Whether the logout token must carry `sid`. */
  backchannelLogoutSessionRequired?: boolean
}

/** Lifetimes, in seconds. */
export interface DevProviderTtl {
  accessToken?: number
  idToken?: number
  refreshToken?: number
  /** The provider's own login session (its `op_session` cookie). */
  session?: number
}

/** What the provider requires of every authorization request (and says so in its metadata). */
export interface DevProviderRequirements {
  /** only pushed authorization requests (RFC 9126): `require_pushed_authorization_requests` */
  pushedAuthorizationRequests?: boolean
  /** only signed request objects (RFC 9101): `require_signed_request_object` */
  requestObjects?: boolean
}

/** Mutual TLS (RFC 8705): the provider's https listener, and which client certificates it trusts. */
export interface DevProviderTls {
  /** the server's certificate (PEM), for 127.0.0.1 (`createCertificateAuthority().issue`) */
  cert: string
  /** its private key (PEM) */
  key: string
  /** the CA certificates (PEM) whose client certificates `tls_client_auth` accepts */
  clientCa?: string | string[]
  /**
   * `false` (the default): the whole provider is on https, the issuer `https://127.0.0.1:PORT`.
   * `true`: the provider stays on http (browsers see no certificate warning), and a second,
   * https listener serves the token, PAR, userinfo, revocation and introspection endpoints,
   * published as `mtls_endpoint_aliases` (RFC 8705 §5).
   */
  endpointAliases?: boolean
}

/** Options of `startDevProvider`; all optional. */
export interface DevProviderOptions {
  /**
   * Mutual TLS (RFC 8705): https with client certificates requested (never required: a browser
   * has none), `tls_client_auth`, `self_signed_tls_client_auth` and certificate-bound tokens.
   * Off by default.
   */
  tls?: DevProviderTls
  /** What every authorization request must be; nothing by default (PAR and JAR are accepted). */
  require?: DevProviderRequirements
  /**
   * Whether the provider speaks DPoP (RFC 9449): a client that sends proofs gets DPoP-bound
   * tokens; default true. `false` ignores proofs and issues Bearer tokens.
   */
  dpop?: boolean
  /** Port to listen on; `0` (the default) picks a free one. The host is always 127.0.0.1. */
  port?: number
  /** Clients to register; none by default. */
  clients?: DevClient[]
  /** Extra claims for every account, released in the ID token and at userinfo. */
  claims?: ExtraClaims
  /** With a `claims` function: every claim name it may return (the provider must know them at start). */
  claimNames?: string[]
  /** Artifact lifetimes, in seconds. */
  ttl?: DevProviderTtl
  /** Receives oidc-provider's warnings and every error it reports; silent by default. */
  logger?: (line: string) => void
  /**
   * The authentication context classes it offers (`acr_values_supported`); none by default, and
   * then no ID token carries `acr`.
   */
  acrValues?: string[]
  /**
   * The `acr` of a login, from the account and the `acr_values` the request asked for; default
   * the first value asked that `acrValues` lists (a provider that can do any of them), else
   * none. Return another to test a relying party that checks it.
   */
  acr?: (login: { accountId: string; requested: readonly string[] }) => string | undefined
}

/** An endpoint whose requests `counts` reports. */
export type DevProviderEndpoint =
  | 'token'
  | 'authorization'
  | 'discovery'
  | 'jwks'
  | 'end_session'
  | 'userinfo'
  | 'revocation'
  | 'par'

/** A running dev provider. */
export interface DevProvider {
  /**
   * `http://127.0.0.1:PORT` (`https://` with `tls`, unless its endpoints are aliased), no
   * trailing slash: the `iss` of every token it signs.
   */
  readonly issuer: string
  readonly port: number
  /** With `tls.endpointAliases`: the https origin of the mutual-TLS endpoint aliases. */
  readonly mtlsOrigin: string | undefined
  /**
   * The oidc-provider instance, for anything this wrapper does not cover. `rotateKeys` replaces
   * it: attach event listeners after rotating
   */
  readonly provider: Provider
  /**
   * Rotates the signing key: a new RS256 key signs every token from now on, the previous one
   * stays published in the JWKS (tokens it signed still verify), an older one is dropped. Logins,
   * grants and tokens survive. Resolves with the new key's `kid`.
   */
  rotateKeys(): Promise<{ kid: string }>
  /** Stops listening and closes every socket, idle keep-alive ones included. */
  close(): Promise<void>
  /** How many requests an endpoint has received since start, e.g. `counts('token')`. */
  counts(endpoint: DevProviderEndpoint): number
  /**
   * Makes every login session at the provider `seconds` older, so the next ID token of such a
   * session has an old `auth_time` and a request with a smaller `max_age` makes the user sign in
   * again (tests of step-up). Never use it outside tests.
   */
  ageSessions(seconds: number): void
  /**
   * Gives the account `accountId` these claims from its next ID token and userinfo answer on
   * (over the derived ones and `claims`): each must be a standard claim or one the provider was
   * started with (`claims`, `claimNames`), else a `TypeError`. A refresh issues them too.
   */
  setClaims(accountId: string, claims: Record<string, unknown>): void
  /**
   * Makes the next refresh (a refresh token grant at the token endpoint: introspection and
   * revocation are not counted) fail: `invalid_grant` (the token is unknown, as after a
   * revocation), `server_error` (a 500), or `hang` (no answer: the connection is cut when the
   * provider closes).
   */
  failNextRefresh(failure: RefreshFailure): void
  /**
   * Revokes every grant and token of `accountId`: its refresh tokens get `invalid_grant` and its
   * access tokens are inactive at introspection. Returns how many were removed.
   */
  revokeTokens(accountId: string): number
  /** Makes every access token of `accountId` expire now (introspection says inactive). */
  expireAccessTokens(accountId: string): number
  /**
   * Signs `accountId` out at the provider as an administrator would: a back-channel logout token
   * to every client of each of its live login sessions that registered a `backchannelLogoutUri`
   * (awaited; with `sid` when the client has `backchannelLogoutSessionRequired`, else `sub` alone,
   * which ends every session of the user at that client), then its sessions end and its grants
   * are revoked. Resolves with each delivery: `ok` when the client answered 200 or 204.
   */
  backchannelLogout(accountId: string): Promise<{ clientId: string; ok: boolean }[]>
  /**
   * Issues `accountId` an access token and a refresh token for a client without a login, as a
   * code exchange would (a grant with `scope`): for minted sessions (`@codeflow/testing`) whose
   * refresh must work at this provider. `clientId` defaults to the first client, `scope` to
   * `openid profile email offline_access`; the tokens belong to no provider session (no `sid`).
   * Never use it outside tests.
   */
  issueTokens(options: {
    accountId: string
    clientId?: string
    scope?: string
  }): Promise<{ accessToken: string; refreshToken: string; expiresAt: number; scope: string }>
  /**
   * Signs a back-channel logout token with the provider's own signing key, for tests that need
   * tokens the provider would not send (an old `iat`, a missing `events`, a foreign `aud`, …).
   * `claims` are merged over `{ iss, aud: <first client>, iat: now, exp: now + 120, jti: <random>,
   * events: { <back-channel logout event>: {} } }` and `header` over `{ alg: 'RS256', kid, typ:
   * 'logout+jwt' }`; a member set to `undefined` is left out. Never use it outside tests.
   */
  signLogoutToken(
    claims?: Record<string, unknown>,
    header?: Record<string, unknown>,
  ): Promise<string>
}

/** Endpoint paths, set explicitly so that the counting below cannot drift from the routes. */
const ROUTES = {
  authorization: '/auth',
  token: '/token',
  jwks: '/jwks',
  end_session: '/session/end',
  userinfo: '/me',
  revocation: '/token/revocation',
  pushed_authorization_request: '/request',
} as const satisfies Configuration['routes']

const ENDPOINT_BY_PATH: ReadonlyMap<string, DevProviderEndpoint> = new Map([
  [ROUTES.authorization, 'authorization'],
  [ROUTES.token, 'token'],
  [ROUTES.pushed_authorization_request, 'par'],
  ['/.well-known/openid-configuration', 'discovery'],
  [ROUTES.jwks, 'jwks'],
  [ROUTES.end_session, 'end_session'],
  [`${ROUTES.end_session}/confirm`, 'end_session'],
  [ROUTES.userinfo, 'userinfo'],
  [ROUTES.revocation, 'revocation'],
])

const COOKIE_NAMES = { session: 'op_session', interaction: 'op_interaction', resume: 'op_resume' }

const DEFAULT_TTL = {
  accessToken: 60 * 60,
  idToken: 60 * 60,
  refreshToken: 14 * 24 * 60 * 60,
  session: 14 * 24 * 60 * 60,
}

function clientMetadata(client: DevClient): ClientMetadata {
  return {
    client_id: client.clientId,
    ...(client.clientSecret === undefined ? {} : { client_secret: client.clientSecret }),
    token_endpoint_auth_method:
      client.tokenEndpointAuthMethod ??
      (client.clientSecret === undefined ? 'none' : 'client_secret_basic'),
    ...(client.jwks === undefined ? {} : { jwks: client.jwks as ClientMetadata['jwks'] }),
    ...(client.dpopBoundAccessTokens === undefined
      ? {}
      : { dpop_bound_access_tokens: client.dpopBoundAccessTokens }),
    ...(client.tlsClientAuthSubjectDn === undefined
      ? {}
      : { tls_client_auth_subject_dn: client.tlsClientAuthSubjectDn }),
    ...(client.certificateBoundAccessTokens === undefined
      ? {}
      : { tls_client_certificate_bound_access_tokens: client.certificateBoundAccessTokens }),
    ...(client.requestObjectSigningAlg === undefined
      ? {}
      : {
          request_object_signing_alg:
            client.requestObjectSigningAlg as ClientMetadata['request_object_signing_alg'],
        }),
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris ?? [],
    response_types: ['code'],
    grant_types: ['authorization_code', 'refresh_token'],
    // every ID token says when the user signed in (OIDC Registration 2: require_auth_time)
    require_auth_time: true,
    ...(client.backchannelLogoutUri === undefined
      ? {}
      : { backchannel_logout_uri: client.backchannelLogoutUri }),
    ...(client.backchannelLogoutSessionRequired === undefined
      ? {}
      : { backchannel_logout_session_required: client.backchannelLogoutSessionRequired }),
  }
}

/**
 * OIDC Core 1.0 §11: `offline_access` is ignored unless `prompt` contains `consent`, and
 * oidc-provider enforces it by dropping the scope from any other request (with no `prompt` at
 * all too). So that asking for `offline_access` is enough to get a refresh token, `consent` is
 * added to such a request: the user sees the consent page every time, as the rule intends.
 * `prompt=none` is left alone (it cannot be combined with another value): a silent request gets
 * no refresh token.
 */
async function requestConsentForOfflineAccess(
  ctx: KoaContextWithOIDC,
  next: () => Promise<unknown>,
): Promise<void> {
  const { scope, prompt = '' } = ctx.query
  if (
    ctx.method === 'GET' &&
    ctx.path === ROUTES.authorization &&
    typeof scope === 'string' &&
    typeof prompt === 'string' &&
    scope.split(' ').includes('offline_access')
  ) {
    const prompts = prompt.split(' ').filter(Boolean)
    if (!prompts.includes('consent') && !prompts.includes('none')) {
      ctx.query = { ...ctx.query, prompt: [...prompts, 'consent'].join(' ') }
    }
  }
  await next()
}

/**
 * oidc-provider gives its `fetch` a dispatcher that refuses special-use addresses, loopback
 * included (SSRF protection). Its only outgoing request here is the back-channel logout, aimed
 * at an app on 127.0.0.1, so the dispatcher is dropped.
 */
const loopbackFetch: NonNullable<Configuration['fetch']> = (input, init) => {
  const { dispatcher: _dispatcher, ...rest } = (init ?? {}) as RequestInit & {
    dispatcher?: unknown
  }
  return fetch(input, rest)
}

/** Runs `build` with oidc-provider's start-up warnings (printed to the console) sent to `log`. */
function withConsoleWarningsTo<T>(log: (line: string) => void, build: () => T): T {
  const { warn, info } = console
  const forward = (...args: unknown[]) => log(stripVTControlCharacters(format(...args)))
  console.warn = forward
  console.info = forward
  try {
    return build()
  } finally {
    console.warn = warn
    console.info = info
  }
}

async function signingKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const jwk = { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig' }
  return { ...jwk, kid: await calculateJwkThumbprint(jwk) }
}

/**
 * The default interaction policy, and a login asked for again when the request's `acr_values`
 * do not include the session's `acr`: a step-up makes the user sign in again, as a provider
 * would ask for a second factor.
 */
function acrPolicy() {
  const policy = interactionPolicy.base()
  policy.get('login')?.checks.add(
    new interactionPolicy.Check(
      'acr_not_satisfied',
      "the requested acr is not the session's",
      (ctx) => {
        const requested = ctx.oidc.params?.acr_values
        // once per request: a login just made stands, whatever its acr (the relying party judges)
        const justLoggedIn = (ctx.oidc.result as { login?: unknown } | undefined)?.login
        if (typeof requested !== 'string' || requested === '' || justLoggedIn) {
          return interactionPolicy.Check.NO_NEED_TO_PROMPT
        }
        const acr = ctx.oidc.session?.acr
        return acr !== undefined && requested.split(' ').includes(acr)
          ? interactionPolicy.Check.NO_NEED_TO_PROMPT
          : interactionPolicy.Check.REQUEST_PROMPT
      },
    ),
  )
  return policy
}

/**
 * Gives each login an `acr` (the devInteractions login sets none): `choose`'s, else the first
 * requested value the provider offers.
 */
function withAcr(
  provider: Provider,
  offered: readonly string[],
  choose: DevProviderOptions['acr'],
): void {
  const finished = provider.interactionFinished.bind(provider)
  provider.interactionFinished = async (req, res, result, options) => {
    const login = (result as { login?: { accountId: string; acr?: string } }).login
    if (login) {
      const { params } = await provider.interactionDetails(req, res)
      const requested =
        typeof params.acr_values === 'string' ? params.acr_values.split(' ').filter(Boolean) : []
      const acr = choose
        ? choose({ accountId: login.accountId, requested })
        : requested.find((value) => offered.includes(value))
      if (acr !== undefined) login.acr = acr
    }
    return finished(req, res, result, options)
  }
}

/** The client certificate of the request's TLS connection, if it has one. */
function peerCertificate(ctx: KoaContextWithOIDC): X509Certificate | undefined {
  const socket = ctx.req.socket as Partial<TLSSocket>
  return socket.getPeerX509Certificate?.()
}

/** A certificate's subject as an RFC 4514 string, most specific first, spaces squeezed. */
function subjectString(lines: string): string {
  return lines
    .split('\n')
    .filter(Boolean)
    .reverse()
    .map((rdn) => rdn.replace(/\s*=\s*/, '=').trim())
    .join(',')
}

function normalizedDn(dn: string): string {
  return dn
    .split(',')
    .map((rdn) => {
      const eq = rdn.indexOf('=')
      return `${rdn.slice(0, eq).trim().toUpperCase()}=${rdn.slice(eq + 1).trim()}`
    })
    .join(',')
}

/** Whether the request's certificate has the subject (or alternative name) the client registered. */
function certificateSubjectMatches(
  ctx: KoaContextWithOIDC,
  property: string,
  expected: string,
): boolean {
  const certificate = peerCertificate(ctx)
  if (!certificate) return false
  if (property === 'tls_client_auth_subject_dn') {
    return normalizedDn(subjectString(certificate.subject)) === normalizedDn(expected)
  }
  const prefix = {
    tls_client_auth_san_dns: 'DNS:',
    tls_client_auth_san_ip: 'IP Address:',
    tls_client_auth_san_email: 'email:',
    tls_client_auth_san_uri: 'URI:',
  }[property]
  if (prefix === undefined) return false
  return (certificate.subjectAltName ?? '')
    .split(', ')
    .some((name) => name === `${prefix}${expected}`)
}

/**
 * Adds `mtls_endpoint_aliases` (RFC 8705 §5) to the metadata: the endpoints a client with a
 * certificate calls, on the https listener.
 */
function publishAliases(origin: string) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<unknown>): Promise<void> => {
    await next()
    if (ctx.path !== '/.well-known/openid-configuration' || ctx.status !== 200) return
    const body = ctx.body as Record<string, unknown>
    ctx.body = {
      ...body,
      mtls_endpoint_aliases: {
        token_endpoint: `${origin}${ROUTES.token}`,
        pushed_authorization_request_endpoint: `${origin}${ROUTES.pushed_authorization_request}`,
        userinfo_endpoint: `${origin}${ROUTES.userinfo}`,
        revocation_endpoint: `${origin}${ROUTES.revocation}`,
        introspection_endpoint: `${origin}/token/introspection`,
      },
    }
  }
}

/** `object` without its members whose value is `undefined`. */
function defined(object: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined))
}

function listen(
  port: number,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  tls?: DevProviderTls,
): Promise<Server> {
  // client certificates are asked for, never required: the handshake of a browser (which has
  // none) succeeds, and oidc-provider decides per request (features.mTLS below)
  const server: Server = tls
    ? createHttpsServer(
        {
          cert: tls.cert,
          key: tls.key,
          ...(tls.clientCa === undefined ? {} : { ca: tls.clientCa }),
          requestCert: true,
          rejectUnauthorized: false,
        },
        handler,
      )
    : createServer(handler)
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve(server)
    })
  })
}

function reportEvents(provider: Provider, log: (line: string) => void): void {
  const clientError =
    (event: string) => (ctx: KoaContextWithOIDC, error: errors.OIDCProviderError) =>
      log(
        `${event} ${ctx.method} ${ctx.path}: ${error.error} (${error.error_description ?? error.message})` +
          (error.error_detail ? ` ${error.error_detail}` : ''),
      )
  provider.on('authorization.error', clientError('authorization.error'))
  provider.on('grant.error', clientError('grant.error'))
  provider.on('end_session.error', clientError('end_session.error'))
  provider.on('userinfo.error', clientError('userinfo.error'))
  provider.on('revocation.error', clientError('revocation.error'))
  provider.on('discovery.error', clientError('discovery.error'))
  provider.on('jwks.error', clientError('jwks.error'))
  provider.on('server_error', (ctx, error) =>
    log(`server_error ${ctx.method} ${ctx.path}: ${error.stack ?? error.message}`),
  )
  provider.on('backchannel.error', (_ctx, error, client) => {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : ''
    log(`back-channel logout to "${client.clientId}" failed: ${error.message}${cause}`)
  })
  // Koa prints errors that escape every handler to the console unless someone listens (Koa's
  // own event, absent from oidc-provider's typed event list).
  const koa: EventEmitter = provider
  koa.on('error', (error: Error) => log(`unhandled error: ${error.stack ?? error.message}`))
}

/**
 * Starts a local OpenID Provider on 127.0.0.1, for demos and tests: any login id signs in,
 * PKCE (S256) is required, and refresh tokens are issued for `offline_access`.
 */
export async function startDevProvider(options: DevProviderOptions = {}): Promise<DevProvider> {
  const log = options.logger ?? (() => {})
  const ttl = { ...DEFAULT_TTL, ...options.ttl }
  const extraNames = extraClaimNames(options.claims, options.claimNames)
  let jwk = await signingKey()
  // the published keys, the signing one first: a rotation keeps the one before it
  let keys: JWK[] = [jwk]

  const requestCounts = new Map<DevProviderEndpoint, number>()
  // what request is being served, for the controls that act on one kind (failNextRefresh)
  const serving = new AsyncLocalStorage<{
    endpoint: DevProviderEndpoint | undefined
    method?: string
  }>()
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const endpoint = ENDPOINT_BY_PATH.get(new URL(req.url ?? '/', 'http://127.0.0.1').pathname)
    if (endpoint) requestCounts.set(endpoint, (requestCounts.get(endpoint) ?? 0) + 1)
    if (handle) {
      const serve = handle
      serving.run({ endpoint, method: req.method }, () => serve(req, res))
    } else {
      res.writeHead(503).end()
    }
  }
  const tls = options.tls
  const aliased = tls?.endpointAliases === true
  for (const client of options.clients ?? []) {
    const method = client.tokenEndpointAuthMethod
    const tlsMethod = method === 'tls_client_auth' || method === 'self_signed_tls_client_auth'
    if ((tlsMethod || client.certificateBoundAccessTokens) && !tls) {
      throw new TypeError(`client "${client.clientId}": mutual TLS needs the "tls" option`)
    }
    // without its own CA, the listener would trust Node's: any public certificate with the
    // registered subject would do
    if (method === 'tls_client_auth' && tls?.clientCa === undefined) {
      throw new TypeError(
        `client "${client.clientId}": tls_client_auth needs "tls.clientCa", the CA that issues its certificate`,
      )
    }
  }
  const servers: Server[] = []
  let closing: Promise<void> | undefined
  // refreshes told to hang answer (with an error) once the provider closes
  let releaseHanging = () => {}
  const close = (): Promise<void> => {
    releaseHanging()
    closing ??= Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve, reject) => {
            server.close((error) => (error ? reject(error) : resolve()))
            server.closeAllConnections()
          }),
      ),
    ).then(() => undefined)
    return closing
  }
  const server = await listen(options.port ?? 0, handler, aliased ? undefined : tls)
  servers.push(server)

  try {
    // The issuer is known only once the port is: the provider is built after listening.
    const { port } = server.address() as AddressInfo
    const issuer = `${tls && !aliased ? 'https' : 'http'}://127.0.0.1:${port}`
    let mtlsOrigin: string | undefined
    if (tls && aliased) {
      const mtls = await listen(0, handler, tls)
      servers.push(mtls)
      mtlsOrigin = `https://127.0.0.1:${(mtls.address() as AddressInfo).port}`
    }
    const adapter = createMemoryAdapter(() => {
      const current = serving.getStore()
      return current?.endpoint === 'token' && current.method === 'POST'
    })
    const accountClaims = new Map<string, Record<string, unknown>>()
    releaseHanging = () => adapter.release()
    const configuration: Configuration = {
      adapter,
      ...(options.acrValues?.length
        ? { acrValues: options.acrValues, interactions: { policy: acrPolicy() } }
        : {}),
      clients: (options.clients ?? []).map(clientMetadata),
      claims: claimsConfiguration(extraNames),
      clientAuthMethods: [
        'client_secret_basic',
        'client_secret_jwt',
        'client_secret_post',
        'private_key_jwt',
        'none',
        ...(tls ? (['tls_client_auth', 'self_signed_tls_client_auth'] as const) : []),
      ],
      // Scope claims (email, profile, the extra claims) go into the ID token too.
      conformIdTokenClaims: false,
      clientBasedCORS: (_ctx, origin, client) =>
        (client.redirectUris ?? []).some((uri) => new URL(uri).origin === origin),
      cookies: { names: COOKIE_NAMES, keys: [randomBytes(32).toString('base64url')] },
      features: {
        devInteractions: { enabled: true },
        rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
        backchannelLogout: { enabled: true },
        revocation: {
          enabled: true,
          allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId,
        },
        userinfo: { enabled: true },
        pushedAuthorizationRequests: {
          enabled: true,
          requirePushedAuthorizationRequests: options.require?.pushedAuthorizationRequests ?? false,
        },
        requestObjects: {
          enabled: true,
          requireSignedRequestObject: options.require?.requestObjects ?? false,
        },
        dPoP: { enabled: options.dpop ?? true },
        // for resource servers in tests: a token's binding (cnf.jkt, cnf.x5t#S256) and activity
        introspection: { enabled: true },
        mTLS: tls
          ? {
              enabled: true,
              certificateBoundAccessTokens: true,
              tlsClientAuth: true,
              selfSignedTlsClientAuth: true,
              getCertificate: peerCertificate,
              certificateAuthorized: (ctx) => (ctx.req.socket as TLSSocket).authorized === true,
              certificateSubjectMatches,
            }
          : { enabled: false },
      },
      fetch: loopbackFetch,
      findAccount: createFindAccount(options.claims, extraNames, accountClaims),
      jwks: { keys },
      pkce: { required: () => true },
      renderError,
      responseTypes: ['code'],
      rotateRefreshToken: true,
      routes: ROUTES,
      ttl: {
        AccessToken: ttl.accessToken,
        AuthorizationCode: 60,
        IdToken: ttl.idToken,
        Interaction: 60 * 60,
        RefreshToken: ttl.refreshToken,
        Session: ttl.session,
        // A grant must outlive every token issued under it.
        Grant: Math.max(ttl.refreshToken, ttl.session, ttl.accessToken),
      },
    }
    // oidc-provider takes its keys at construction: a rotation builds the provider again, over
    // the same storage (sessions, grants and tokens survive) and configuration
    const build = () => {
      const built = withConsoleWarningsTo(
        log,
        () => new Provider(issuer, { ...configuration, jwks: { keys: [...keys] } }),
      )
      reportEvents(built, log)
      built.use(requestConsentForOfflineAccess)
      if (options.acrValues?.length) withAcr(built, options.acrValues, options.acr)
      if (mtlsOrigin) built.use(publishAliases(mtlsOrigin))
      return built
    }
    let provider = build()

    // oidc-provider checks static clients on first use; check them now, so that a bad
    // redirect URI fails here rather than in the middle of a test's login.
    for (const { clientId } of options.clients ?? []) {
      try {
        await provider.Client.find(clientId)
      } catch (cause) {
        const { error_description: reason = String(cause) } = cause as errors.OIDCProviderError
        throw new TypeError(`client "${clientId}": ${reason}`, { cause })
      }
    }

    handle = provider.callback()
    const audience = options.clients?.[0]?.clientId
    return {
      issuer,
      port,
      mtlsOrigin,
      get provider() {
        return provider
      },
      close,
      async rotateKeys() {
        jwk = await signingKey()
        keys = [jwk, ...keys.slice(0, 1)]
        provider = build()
        handle = provider.callback()
        return { kid: jwk.kid as string }
      },
      counts: (endpoint) => requestCounts.get(endpoint) ?? 0,
      ageSessions: (seconds) => adapter.ageSessions(seconds),
      setClaims(accountId, claims) {
        checkAccountClaims(claims, extraNames)
        accountClaims.set(accountId, { ...accountClaims.get(accountId), ...claims })
      },
      failNextRefresh(failure) {
        if (!['invalid_grant', 'server_error', 'hang'].includes(failure)) {
          throw new TypeError(
            'failNextRefresh: "failure" must be invalid_grant, server_error or hang',
          )
        }
        adapter.failNextRefresh(failure)
      },
      revokeTokens: (accountId) => adapter.revokeTokens(accountId),
      expireAccessTokens: (accountId) => adapter.expireAccessTokens(accountId),
      async issueTokens({
        accountId,
        clientId = audience,
        scope = 'openid profile email offline_access',
      }) {
        const client = clientId === undefined ? undefined : await provider.Client.find(clientId)
        if (!client) throw new TypeError(`issueTokens: no client ${JSON.stringify(clientId)}`)
        const grant = new provider.Grant({ accountId, clientId: client.clientId })
        grant.addOIDCScope(scope)
        const grantId = await grant.save()
        const now = Math.floor(Date.now() / 1000)
        const common = { accountId, client, grantId, scope, gty: 'authorization_code' }
        const access = new provider.AccessToken(common)
        const accessToken = await access.save()
        const refreshToken = await new provider.RefreshToken({
          ...common,
          authTime: now,
          iiat: now,
          rotations: 0,
        }).save()
        return { accessToken, refreshToken, expiresAt: now + ttl.accessToken, scope }
      },
      async backchannelLogout(accountId) {
        const deliveries: { clientId: string; ok: boolean }[] = []
        for (const { key, clients } of adapter.sessionsOf(accountId)) {
          for (const [clientId, sid] of Object.entries(clients)) {
            // oidc-provider's own back-channel logout of a client (its end_session does the same)
            const client = (await provider.Client.find(clientId)) as
              | (InstanceType<Provider['Client']> & {
                  backchannelLogout(sub: string, sid: string | undefined): Promise<void>
                })
              | undefined
            if (!client?.backchannelLogoutUri) continue
            const ok = await client.backchannelLogout(accountId, sid).then(
              () => true,
              (error: Error) => {
                log(`back-channel logout to "${clientId}" failed: ${error.message}`)
                return false
              },
            )
            deliveries.push({ clientId, ok })
          }
          adapter.deleteSession(key)
        }
        // signed out for good: the grants (and their refresh tokens) go with the sessions
        adapter.revokeTokens(accountId)
        return deliveries
      },
      async signLogoutToken(claims = {}, header = {}) {
        const now = Math.floor(Date.now() / 1000)
        const payload = defined({
          iss: issuer,
          aud: audience,
          iat: now,
          exp: now + 120,
          jti: randomBytes(16).toString('base64url'),
          events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
          ...claims,
        })
        const protectedHeader = defined({
          alg: 'RS256',
          kid: jwk.kid,
          typ: 'logout+jwt',
          ...header,
        })
        const alg = String(protectedHeader.alg)
        // the same RSA key, imported for the algorithm asked for (RS384 to test the alg pin)
        const key = await importJWK(jwk as JoseJWK, alg)
        return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
          .setProtectedHeader({ ...protectedHeader, alg })
          .sign(key)
      },
    }
  } catch (error) {
    await close()
    throw error
  }
}

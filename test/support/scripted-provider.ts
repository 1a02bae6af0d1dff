/**
 * A scripted OpenID Provider (node:http + jose) whose behaviour the tests choose: who signs in,
 * how long access tokens live, and what the token endpoint does at a refresh (rotate, refuse with
 * invalid_grant, answer about another user, fail with 500, hang). It checks what a real provider
 * checks (client credentials, PKCE S256, redirect_uri, one-time codes, rotating refresh tokens),
 * so the app under test cannot tell it from one, until a test makes it misbehave: then it is the
 * hostile provider of the attack scenarios (forged ID tokens, a wrong or missing RFC 9207 `iss`,
 * broken or hanging token endpoints, key rotation).
 */
import { createHash, createSign, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, exportPKCS8, generateKeyPair, type JWK, SignJWT } from 'jose'

/** What the token endpoint does when a refresh token is used. */
export type RefreshBehaviour =
  | 'rotate'
  | 'keep'
  | 'invalid_grant'
  | 'other_subject'
  | 'server_error'
  | 'hang'

/** The endpoints whose requests are counted. */
export type ScriptedEndpoint =
  | 'authorize'
  | 'token'
  | 'refresh'
  | 'userinfo'
  | 'revocation'
  | 'jwks'

/**
 * How the hostile provider forges the ID token of its token responses (code exchange and
 * refresh); `undefined` signs an honest one.
 */
export type IdTokenForgery =
  | 'wrong_nonce'
  | 'alg_none'
  | 'hs256_client_secret'
  | 'wrong_aud'
  | 'extra_aud'
  | 'wrong_iss'
  | 'expired'
  | 'future_iat'
  | 'foreign_key'
  | 'foreign_key_unknown_kid'
  | 'missing'
  | 'wrong_azp'
  | 'no_sub'
  | 'huge_claims'
  | 'proto_claims'

/** How the hostile token endpoint breaks (for every grant); `undefined` answers normally. */
export type TokenFault =
  | 'html_500'
  | 'bad_json'
  | 'huge_body'
  | 'hang'
  | 'redirect'
  | 'error_json'
  | 'no_access_token'

/** What the authorization endpoint puts in the RFC 9207 `iss` response parameter. */
export type IssParameter = 'correct' | 'missing' | 'wrong'

/** A running scripted provider. */
export interface ScriptedProvider {
  readonly issuer: string
  readonly clientId: string
  readonly clientSecret: string
  /** who the next authorization signs in as (default `alice`) */
  subject: string
  /** seconds an access token lives (default 3600) */
  accessTokenTtl: number
  /** what refreshes do (default `rotate`) */
  refresh: RefreshBehaviour
  /** the `sub` userinfo answers with; default the token's own */
  userinfoSubject: string | undefined
  /** requests per endpoint so far */
  counts(endpoint: ScriptedEndpoint): number
  /** the form of the last refresh request (to see `resource` and `scope`) */
  readonly lastRefresh: URLSearchParams | undefined
  /** the tokens revoked so far (RFC 7009), in order */
  readonly revoked: readonly string[]
  /** hostile: how ID tokens are forged (default honest) */
  forgery: IdTokenForgery | undefined
  /** hostile: how the token endpoint fails (default it does not) */
  tokenFault: TokenFault | undefined
  /** hostile: the `iss` authorization response parameter (default correct) */
  issParameter: IssParameter
  /** the `token_type` of its token responses (default `Bearer`) */
  tokenType: string
  /** claims added to every ID token (and JWT access token), e.g. a big tenant's groups */
  extraClaims: Record<string, unknown>
  /**
   * whether access tokens are JWTs carrying the user's claims, as Entra's and Keycloak's are
   * (default false: opaque)
   */
  jwtAccessTokens: boolean
  /**
   * the client authentication methods its metadata lists and its token endpoint accepts
   * (default `client_secret_basic` alone)
   */
  clientAuthMethods: ('client_secret_basic' | 'client_secret_post')[]
  /**
   * whether it form-decodes Basic credentials (RFC 6749 §2.3.1; default true): some providers do
   * not, so a client id with `-` (sent as `%2D`) fails with Basic
   */
  decodesBasic: boolean
  /** the `kid` ID tokens are signed with now */
  readonly kid: string
  /**
   * Rotates the signing key: a new key with a new `kid` signs from now on; the old ones stay
   * published unless `retire` is set.
   */
  rotateKey(options?: { retire?: boolean }): Promise<void>
  /** Signs `payload` with the current key (RS256, its `kid`), e.g. a logout token. */
  sign(payload: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>
  close(): Promise<void>
}

interface Grant {
  readonly sub: string
  readonly sid: string
}

function base64url(bytes: Buffer): string {
  return bytes.toString('base64url')
}

async function readBody(req: IncomingMessage): Promise<URLSearchParams> {
  let body = ''
  for await (const chunk of req) body += chunk
  return new URLSearchParams(body)
}

/**
 * Starts a scripted provider on 127.0.0.1 for one confidential client with `redirectUris`;
 * `clock` (epoch milliseconds, default the system's) is the time its tokens are issued at.
 */
export async function startScriptedProvider(options: {
  redirectUris: string[]
  postLogoutRedirectUris?: string[]
  clock?: () => number
}): Promise<ScriptedProvider> {
  const clock = options.clock ?? (() => Date.now())
  const { privateKey: firstKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  let privateKey = firstKey
  let generation = 1
  let kid = 'scripted-1'
  const jwks: JWK[] = [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }]
  // a key nobody published, to sign forgeries with
  const foreign = await generateKeyPair('RS256')
  const clientId = 'scripted-client'
  const clientSecret = 'scripted-client-secret'
  const codes = new Map<string, Grant & { nonce: string; challenge: string; redirectUri: string }>()
  const refreshTokens = new Map<string, Grant>()
  const accessTokens = new Map<string, Grant>()
  const counts = new Map<ScriptedEndpoint, number>()
  const hanging = new Set<ServerResponse>()
  const revoked: string[] = []
  let issuer = ''
  let lastRefresh: URLSearchParams | undefined

  const count = (endpoint: ScriptedEndpoint) =>
    counts.set(endpoint, (counts.get(endpoint) ?? 0) + 1)

  function json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    res.end(JSON.stringify(body))
  }

  function encodeJson(value: unknown): string {
    return Buffer.from(JSON.stringify(value)).toString('base64url')
  }

  async function idToken(grant: Grant, nonce?: string): Promise<string | undefined> {
    const forgery = provider.forgery
    const now = Math.floor(clock() / 1000)
    const claims: Record<string, unknown> = {
      iss: forgery === 'wrong_iss' ? 'https://evil.example' : issuer,
      sub: grant.sub,
      aud:
        forgery === 'wrong_aud'
          ? 'another-client'
          : forgery === 'extra_aud' || forgery === 'wrong_azp'
            ? [clientId, 'another-client']
            : clientId,
      iat: forgery === 'future_iat' ? now + 3600 : forgery === 'expired' ? now - 7200 : now,
      exp: forgery === 'expired' ? now - 3600 : now + 600,
      sid: grant.sid,
      ...(nonce ? { nonce: forgery === 'wrong_nonce' ? 'a-nonce-of-another-login' : nonce } : {}),
      name: `Scripted ${grant.sub}`,
      ...provider.extraClaims,
    }
    if (forgery === 'wrong_azp') claims.azp = 'another-client'
    if (forgery === 'no_sub') delete claims.sub
    if (forgery === 'huge_claims') claims.picture = 'x'.repeat(200_000)
    switch (forgery) {
      case 'missing':
        return undefined
      case 'alg_none':
        return `${encodeJson({ alg: 'none', typ: 'JWT' })}.${encodeJson(claims)}.`
      case 'proto_claims': {
        const header = encodeJson({ alg: 'RS256', kid })
        const body = Buffer.from(
          JSON.stringify(claims).replace(
            /^\{/,
            '{"__proto__":{"admin":true},"constructor":{"prototype":{"admin":true}},',
          ),
        ).toString('base64url')
        const signature = createSign('RSA-SHA256')
          .update(`${header}.${body}`)
          .sign(await exportPKCS8(privateKey))
          .toString('base64url')
        return `${header}.${body}.${signature}`
      }
      case 'hs256_client_secret':
        return new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256', kid })
          .sign(new TextEncoder().encode(clientSecret))
      case 'foreign_key':
        return new SignJWT(claims)
          .setProtectedHeader({ alg: 'RS256', kid })
          .sign(foreign.privateKey)
      case 'foreign_key_unknown_kid':
        return new SignJWT(claims)
          .setProtectedHeader({ alg: 'RS256', kid: `unknown-${randomBytes(4).toString('hex')}` })
          .sign(foreign.privateKey)
      default:
        return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey)
    }
  }

  /** An access token: opaque, or a JWT with the user's claims. */
  async function accessTokenFor(grant: Grant): Promise<string> {
    if (!provider.jwtAccessTokens) return base64url(randomBytes(24))
    const now = Math.floor(clock() / 1000)
    return new SignJWT({
      iss: issuer,
      sub: grant.sub,
      aud: 'https://api.scripted.test',
      client_id: clientId,
      iat: now,
      exp: now + provider.accessTokenTtl,
      jti: base64url(randomBytes(12)),
      scope: 'openid profile offline_access',
      ...provider.extraClaims,
    })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' })
      .sign(privateKey)
  }

  async function tokens(grant: Grant, nonce?: string) {
    const accessToken = await accessTokenFor(grant)
    const refreshToken = base64url(randomBytes(24))
    accessTokens.set(accessToken, grant)
    refreshTokens.set(refreshToken, grant)
    const id = await idToken(grant, nonce)
    return {
      ...(provider.tokenFault === 'no_access_token' ? {} : { access_token: accessToken }),
      token_type: provider.tokenType,
      expires_in: provider.accessTokenTtl,
      refresh_token: refreshToken,
      ...(id === undefined ? {} : { id_token: id }),
      scope: 'openid profile offline_access',
    }
  }

  /** The hostile token endpoint's faults; whether one was served. */
  function tokenFault(res: ServerResponse): boolean {
    switch (provider.tokenFault) {
      case 'html_500':
        res.writeHead(500, { 'content-type': 'text/html' })
        res.end('<html><body><h1>500 Internal Server Error</h1><script>x()</script></body></html>')
        return true
      case 'bad_json':
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end('{"access_token": "abc", "token_type": ')
        return true
      case 'huge_body':
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(`{"access_token":"${'a'.repeat(8 * 1024 * 1024)}","token_type":"Bearer"}`)
        return true
      case 'hang':
        hanging.add(res)
        return true
      case 'redirect':
        res.writeHead(307, { location: 'http://127.0.0.1:9/token' })
        res.end()
        return true
      case 'error_json':
        json(res, 400, {
          error: 'invalid_request',
          error_description: '<img src=x onerror=alert(1)>',
        })
        return true
      default:
        return false
    }
  }

  /** Whether the request authenticates the client by one of the methods it accepts. */
  function authenticated(req: IncomingMessage, form: URLSearchParams): boolean {
    const methods = provider.clientAuthMethods
    const header = req.headers.authorization ?? ''
    if (header.startsWith('Basic ')) {
      if (!methods.includes('client_secret_basic') || form.has('client_secret')) return false
      const decode = provider.decodesBasic ? decodeURIComponent : (text: string) => text
      const [id, secret] = Buffer.from(header.slice(6), 'base64').toString().split(':')
      return decode(id ?? '') === clientId && decode(secret ?? '') === clientSecret
    }
    return (
      methods.includes('client_secret_post') &&
      form.get('client_id') === clientId &&
      form.get('client_secret') === clientSecret
    )
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    count('token')
    const form = await readBody(req)
    if (!authenticated(req, form)) return json(res, 401, { error: 'invalid_client' })
    if (tokenFault(res)) {
      if (form.get('grant_type') === 'refresh_token') count('refresh')
      return
    }
    if (form.get('grant_type') === 'authorization_code') {
      const code = codes.get(form.get('code') ?? '')
      codes.delete(form.get('code') ?? '')
      const verifier = form.get('code_verifier') ?? ''
      const challenge = base64url(createHash('sha256').update(verifier).digest())
      if (!code || code.challenge !== challenge || code.redirectUri !== form.get('redirect_uri')) {
        return json(res, 400, { error: 'invalid_grant' })
      }
      return json(res, 200, await tokens(code, code.nonce))
    }
    if (form.get('grant_type') === 'refresh_token') {
      count('refresh')
      lastRefresh = form
      const presented = form.get('refresh_token') ?? ''
      const grant = refreshTokens.get(presented)
      switch (provider.refresh) {
        case 'hang':
          hanging.add(res)
          return
        case 'server_error':
          res.writeHead(500, { 'content-type': 'text/html' })
          res.end('<h1>Internal Server Error</h1>')
          return
        case 'invalid_grant':
          refreshTokens.delete(presented)
          return json(res, 400, { error: 'invalid_grant', error_description: 'grant revoked' })
      }
      if (!grant)
        return json(res, 400, { error: 'invalid_grant', error_description: 'unknown or spent' })
      const next =
        provider.refresh === 'other_subject' ? { ...grant, sub: `${grant.sub}-other` } : grant
      const issued = await tokens(next)
      if (provider.refresh === 'keep') {
        refreshTokens.delete(issued.refresh_token)
        const { refresh_token: _kept, ...rest } = issued
        return json(res, 200, rest)
      }
      refreshTokens.delete(presented)
      return json(res, 200, issued)
    }
    return json(res, 400, { error: 'unsupported_grant_type' })
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', issuer)
    switch (url.pathname) {
      case '/.well-known/openid-configuration':
        return json(res, 200, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          userinfo_endpoint: `${issuer}/userinfo`,
          jwks_uri: `${issuer}/jwks`,
          end_session_endpoint: `${issuer}/logout`,
          revocation_endpoint: `${issuer}/revoke`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: provider.clientAuthMethods,
          authorization_response_iss_parameter_supported: true,
        })
      case '/jwks':
        count('jwks')
        return json(res, 200, { keys: jwks })
      case '/authorize': {
        count('authorize')
        const redirectUri = url.searchParams.get('redirect_uri') ?? ''
        if (
          url.searchParams.get('client_id') !== clientId ||
          !options.redirectUris.includes(redirectUri)
        ) {
          return json(res, 400, { error: 'invalid_request' })
        }
        const code = base64url(randomBytes(16))
        codes.set(code, {
          sub: provider.subject,
          sid: base64url(randomBytes(8)),
          nonce: url.searchParams.get('nonce') ?? '',
          challenge: url.searchParams.get('code_challenge') ?? '',
          redirectUri,
        })
        const target = new URL(redirectUri)
        target.searchParams.set('code', code)
        target.searchParams.set('state', url.searchParams.get('state') ?? '')
        if (provider.issParameter !== 'missing') {
          target.searchParams.set(
            'iss',
            provider.issParameter === 'wrong' ? 'https://evil.example' : issuer,
          )
        }
        res.writeHead(302, { location: target.href })
        res.end()
        return
      }
      case '/token':
        return token(req, res)
      case '/userinfo': {
        count('userinfo')
        const grant = accessTokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''))
        if (!grant) return json(res, 401, { error: 'invalid_token' })
        return json(res, 200, {
          sub: provider.userinfoSubject ?? grant.sub,
          email: `${grant.sub}@scripted.test`,
        })
      }
      case '/revoke': {
        count('revocation')
        const form = await readBody(req)
        if (!authenticated(req, form)) return json(res, 401, { error: 'invalid_client' })
        revoked.push(form.get('token') ?? '')
        return json(res, 200, {})
      }
      default:
        return json(res, 404, { error: 'not_found' })
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => json(res, 500, { error: String(error) }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const provider: ScriptedProvider = {
    issuer,
    clientId,
    clientSecret,
    subject: 'alice',
    accessTokenTtl: 3600,
    refresh: 'rotate',
    userinfoSubject: undefined,
    counts: (endpoint) => counts.get(endpoint) ?? 0,
    get lastRefresh() {
      return lastRefresh
    },
    revoked,
    forgery: undefined,
    tokenFault: undefined,
    issParameter: 'correct',
    tokenType: 'Bearer',
    extraClaims: {},
    jwtAccessTokens: false,
    clientAuthMethods: ['client_secret_basic'],
    decodesBasic: true,
    get kid() {
      return kid
    },
    async rotateKey({ retire = false } = {}) {
      const next = await generateKeyPair('RS256', { extractable: true })
      kid = `scripted-${++generation}`
      if (retire) jwks.length = 0
      jwks.push({ ...(await exportJWK(next.publicKey)), kid, alg: 'RS256', use: 'sig' })
      privateKey = next.privateKey
    },
    sign: (payload, header = {}) =>
      new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, ...header }).sign(privateKey),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy()
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
  return provider
}

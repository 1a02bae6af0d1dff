import { Agent, request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type DevProvider, startDevProvider } from '../src/index.js'
import {
  APP,
  authorize,
  basicAuth,
  CookieJar,
  exchangeCode,
  GROUPS,
  logoutReceiver,
  PUBLIC_CLIENT,
  send,
  type TokenResponse,
  tokenRequest,
  WEB_CLIENT,
} from './support.js'

describe('startDevProvider', () => {
  let op: DevProvider
  const logged: string[] = []

  beforeAll(async () => {
    op = await startDevProvider({
      clients: [WEB_CLIENT, PUBLIC_CLIENT],
      claims: { groups: GROUPS, tenant: 'acme' },
      logger: (line) => logged.push(line),
    })
  })
  afterAll(() => op.close())

  it('uses 127.0.0.1 and the bound port as the issuer', () => {
    expect(op.issuer).toBe(`http://127.0.0.1:${op.port}`)
    expect(op.port).toBeGreaterThan(0)
    expect(op.provider.issuer).toBe(op.issuer)
  })

  it('publishes discovery metadata for the code flow', async () => {
    const before = op.counts('discovery')
    const response = await fetch(new URL('/.well-known/openid-configuration', op.issuer))
    const metadata = (await response.json()) as Record<string, unknown>
    expect(metadata).toMatchObject({
      issuer: op.issuer,
      authorization_endpoint: `${op.issuer}/auth`,
      token_endpoint: `${op.issuer}/token`,
      jwks_uri: `${op.issuer}/jwks`,
      userinfo_endpoint: `${op.issuer}/me`,
      end_session_endpoint: `${op.issuer}/session/end`,
      revocation_endpoint: `${op.issuer}/token/revocation`,
      backchannel_logout_supported: true,
      authorization_response_iss_parameter_supported: true,
      response_types_supported: ['code'],
      id_token_signing_alg_values_supported: expect.arrayContaining(['RS256']),
    })
    expect(metadata.code_challenge_methods_supported).toContain('S256')
    expect(metadata.grant_types_supported).toEqual(
      expect.arrayContaining(['authorization_code', 'refresh_token']),
    )
    expect(op.counts('discovery')).toBe(before + 1)
  })

  it('runs the code flow with PKCE and client_secret_basic', async () => {
    const jar = new CookieJar()
    const tokenCalls = op.counts('token')
    const authorized = await authorize(op, jar, WEB_CLIENT, { scope: 'openid email profile' })
    // RFC 9207: the issuer comes back with the code.
    expect(authorized.callback.searchParams.get('iss')).toBe(op.issuer)
    expect(authorized.callback.searchParams.get('state')).toBe(authorized.state)
    expect(jar.names()).toContain('op_session')
    expect(jar.names().every((name) => name.startsWith('op_'))).toBe(true)

    const tokens = await exchangeCode(op, WEB_CLIENT, authorized)
    expect(op.counts('token')).toBe(tokenCalls + 1)
    expect(op.counts('authorization')).toBeGreaterThan(0)
    expect(tokens.refresh_token).toBeUndefined()
    const claims = decodeJwt(tokens.id_token ?? '')
    expect(claims).toMatchObject({
      iss: op.issuer,
      aud: 'web',
      sub: 'alice',
      email: 'alice@example.test',
      email_verified: true,
      name: 'Alice Example',
      given_name: 'Alice',
      family_name: 'Example',
      groups: GROUPS,
      tenant: 'acme',
    })
  })

  it('releases the extra claims with the openid scope alone, and at userinfo', async () => {
    const authorized = await authorize(op, new CookieJar(), WEB_CLIENT, { login: 'bob.smith' })
    const tokens = await exchangeCode(op, WEB_CLIENT, authorized)
    const claims = decodeJwt(tokens.id_token ?? '')
    expect(claims).toMatchObject({ sub: 'bob.smith', tenant: 'acme' })
    expect(claims.email).toBeUndefined()

    const userinfo = await fetch(new URL('/me', op.issuer), {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    expect(await userinfo.json()).toMatchObject({ sub: 'bob.smith', tenant: 'acme' })
    expect(op.counts('userinfo')).toBe(1)
  })

  it('issues a rotating refresh token for offline_access, without prompt=consent', async () => {
    const authorized = await authorize(op, new CookieJar(), WEB_CLIENT, {
      scope: 'openid offline_access',
    })
    const tokens = await exchangeCode(op, WEB_CLIENT, authorized)
    expect(tokens.refresh_token).toEqual(expect.any(String))

    const refreshed = await tokenRequest(op, WEB_CLIENT, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token ?? '',
    })
    expect(refreshed.status).toBe(200)
    const next = (await refreshed.json()) as TokenResponse
    expect(next.access_token).not.toBe(tokens.access_token)
    expect(next.refresh_token).toEqual(expect.any(String))
    expect(next.refresh_token).not.toBe(tokens.refresh_token)
    expect(decodeJwt(next.id_token ?? '')).toMatchObject({ sub: 'alice', tenant: 'acme' })

    // The rotated-out token is spent.
    const reused = await tokenRequest(op, WEB_CLIENT, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token ?? '',
    })
    expect(reused.status).toBe(400)
    expect(await reused.json()).toMatchObject({ error: 'invalid_grant' })
  })

  it('keeps offline_access when the request says prompt=login', async () => {
    const jar = new CookieJar()
    await authorize(op, jar, WEB_CLIENT, { scope: 'openid offline_access' })
    const again = await authorize(op, jar, WEB_CLIENT, {
      scope: 'openid offline_access',
      extra: { prompt: 'login' },
    })
    const tokens = await exchangeCode(op, WEB_CLIENT, again)
    expect(tokens.refresh_token).toEqual(expect.any(String))
    expect(tokens.scope.split(' ')).toContain('offline_access')
  })

  it('serves a public client, and requires PKCE', async () => {
    const authorized = await authorize(op, new CookieJar(), PUBLIC_CLIENT)
    const tokens = await exchangeCode(op, PUBLIC_CLIENT, authorized)
    expect(decodeJwt(tokens.id_token ?? '').aud).toBe('spa')

    const url = new URL('/auth', op.issuer)
    url.search = new URLSearchParams({
      client_id: 'web',
      redirect_uri: WEB_CLIENT.redirectUris[0] ?? '',
      response_type: 'code',
      scope: 'openid',
    }).toString()
    const response = await fetch(url, { redirect: 'manual' })
    const location = new URL(response.headers.get('location') ?? '')
    expect(location.searchParams.get('error')).toBe('invalid_request')
    expect(location.searchParams.get('iss')).toBe(op.issuer)
  })

  it('revokes a refresh token', async () => {
    const authorized = await authorize(op, new CookieJar(), WEB_CLIENT, {
      scope: 'openid offline_access',
    })
    const { refresh_token } = await exchangeCode(op, WEB_CLIENT, authorized)
    const revoked = await fetch(new URL('/token/revocation', op.issuer), {
      method: 'POST',
      headers: { authorization: basicAuth(WEB_CLIENT) },
      body: new URLSearchParams({ token: refresh_token ?? '', token_type_hint: 'refresh_token' }),
    })
    expect(revoked.status).toBe(200)
    expect(op.counts('revocation')).toBe(1)
    const refreshed = await tokenRequest(op, WEB_CLIENT, {
      grant_type: 'refresh_token',
      refresh_token: refresh_token ?? '',
    })
    expect(refreshed.status).toBe(400)
  })

  it('logs out with id_token_hint and post_logout_redirect_uri after the confirmation form', async () => {
    const jar = new CookieJar()
    const tokens = await exchangeCode(op, WEB_CLIENT, await authorize(op, jar, WEB_CLIENT))
    const endSession = new URL('/session/end', op.issuer)
    endSession.search = new URLSearchParams({
      id_token_hint: tokens.id_token ?? '',
      post_logout_redirect_uri: WEB_CLIENT.postLogoutRedirectUris?.[0] ?? '',
      state: 'bye',
    }).toString()
    const page = await send(jar, endSession)
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).not.toContain('googleapis')
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1] ?? ''

    const confirmed = await send(jar, new URL('/session/end/confirm', op.issuer), {
      method: 'POST',
      body: new URLSearchParams({ xsrf, logout: 'yes' }),
    })
    expect(confirmed.status).toBe(303)
    expect(confirmed.headers.get('location')).toBe(`${APP}/signed-out?state=bye`)
    expect(jar.names()).not.toContain('op_session')
    expect(op.counts('end_session')).toBe(2)
  })

  it('reports client errors to the logger', async () => {
    await tokenRequest(op, WEB_CLIENT, { grant_type: 'authorization_code', code: 'nope' })
    expect(logged.some((line) => line.startsWith('grant.error POST /token'))).toBe(true)
  })
})

describe('back-channel logout', () => {
  it('posts a logout token to a client on 127.0.0.1', async () => {
    const { received, client, close } = await logoutReceiver(204)
    const logged: string[] = []
    const op = await startDevProvider({ clients: [client], logger: (line) => logged.push(line) })
    try {
      const jar = new CookieJar()
      const tokens = await exchangeCode(op, client, await authorize(op, jar, client))
      const endSession = new URL('/session/end', op.issuer)
      endSession.searchParams.set('id_token_hint', tokens.id_token ?? '')
      const html = await (await send(jar, endSession)).text()
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1] ?? ''
      await send(jar, new URL('/session/end/confirm', op.issuer), {
        method: 'POST',
        body: new URLSearchParams({ xsrf, logout: 'yes' }),
      })
      expect(logged.filter((line) => !line.startsWith('oidc-provider WARNING'))).toEqual([])
      expect(received).toHaveLength(1)
      const logoutToken = decodeJwt(received[0] ?? '')
      expect(logoutToken).toMatchObject({ iss: op.issuer, aud: 'web', sub: 'alice' })
      expect(logoutToken.sid).toBe(decodeJwt(tokens.id_token ?? '').sid)
    } finally {
      await op.close()
      close()
    }
  })
})

describe('options', () => {
  it('takes extra claims from a function, with their names declared', async () => {
    const op = await startDevProvider({
      clients: [WEB_CLIENT],
      claims: (accountId) => (accountId === 'admin' ? { roles: ['admin'] } : {}),
      claimNames: ['roles'],
    })
    try {
      const admin = await authorize(op, new CookieJar(), WEB_CLIENT, { login: 'admin' })
      expect(decodeJwt((await exchangeCode(op, WEB_CLIENT, admin)).id_token ?? '').roles).toEqual([
        'admin',
      ])
      const alice = await authorize(op, new CookieJar(), WEB_CLIENT)
      expect(decodeJwt((await exchangeCode(op, WEB_CLIENT, alice)).id_token ?? '').roles).toBe(
        undefined,
      )
    } finally {
      await op.close()
    }
  })

  it('applies the token lifetimes', async () => {
    const op = await startDevProvider({
      clients: [WEB_CLIENT],
      ttl: { accessToken: 120, idToken: 90 },
    })
    try {
      const tokens = await exchangeCode(
        op,
        WEB_CLIENT,
        await authorize(op, new CookieJar(), WEB_CLIENT),
      )
      expect(tokens.expires_in).toBe(120)
      const { exp = 0, iat = 0 } = decodeJwt(tokens.id_token ?? '')
      expect(exp - iat).toBe(90)
    } finally {
      await op.close()
    }
  })

  it('refuses a reserved claim name, and a bad client, at start', async () => {
    await expect(startDevProvider({ claims: { sub: 'mallory' } })).rejects.toThrow(/"sub"/)
    await expect(
      startDevProvider({ clients: [{ clientId: 'bad', redirectUris: ['not a url'] }] }),
    ).rejects.toThrow(/^client "bad": redirect_uris/)
  })

  it('prints nothing to the console without a logger', async () => {
    const spies = (['log', 'info', 'warn', 'error'] as const).map((method) =>
      vi.spyOn(console, method).mockImplementation(() => {}),
    )
    try {
      const op = await startDevProvider({ clients: [WEB_CLIENT] })
      await exchangeCode(op, WEB_CLIENT, await authorize(op, new CookieJar(), WEB_CLIENT))
      await tokenRequest(op, WEB_CLIENT, { grant_type: 'authorization_code', code: 'nope' })
      await fetch(new URL('/auth?client_id=unknown', op.issuer), {
        headers: { accept: 'text/html' },
      })
      await op.close()
      for (const spy of spies) expect(spy).not.toHaveBeenCalled()
    } finally {
      for (const spy of spies) spy.mockRestore()
    }
  })
})

describe('close', () => {
  it('closes idle keep-alive connections and stops listening', async () => {
    const op = await startDevProvider()
    // A keep-alive connection left idle must not hold close() up.
    const agent = new Agent({ keepAlive: true })
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        new URL('/.well-known/openid-configuration', op.issuer),
        { agent },
        (res) => {
          res.resume()
          res.on('end', resolve)
        },
      )
      req.on('error', reject)
      req.end()
    })
    const started = Date.now()
    await op.close()
    expect(Date.now() - started).toBeLessThan(1000)
    await op.close()
    agent.destroy()

    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(op.port, '127.0.0.1')
      socket.on('connect', () => {
        socket.destroy()
        resolve(false)
      })
      socket.on('error', () => resolve(true))
    })
    expect(refused).toBe(true)
  })
})

import { decodeJwt, decodeProtectedHeader } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { type DevClient, type DevProvider, startDevProvider } from '../src/index.js'
import {
  authorize,
  basicAuth,
  CookieJar,
  exchangeCode,
  logoutReceiver,
  tokenRequest,
  WEB_CLIENT,
} from './support.js'

let op: DevProvider | undefined
afterEach(async () => {
  await op?.close()
  op = undefined
})

/** A signed-in client of `provider`: its tokens, with a refresh token. */
async function signedIn(provider: DevProvider, login = 'alice', client: DevClient = WEB_CLIENT) {
  const authorized = await authorize(provider, new CookieJar(), client, {
    scope: 'openid offline_access',
    login,
  })
  return exchangeCode(provider, client, authorized)
}

const refresh = (provider: DevProvider, token: string) =>
  tokenRequest(provider, WEB_CLIENT, { grant_type: 'refresh_token', refresh_token: token })

async function active(provider: DevProvider, token: string): Promise<boolean> {
  const response = await fetch(new URL('/token/introspection', provider.issuer), {
    method: 'POST',
    headers: { authorization: basicAuth(WEB_CLIENT) },
    body: new URLSearchParams({ token }),
  })
  return ((await response.json()) as { active: boolean }).active
}

describe('setClaims', () => {
  it('gives an account claims from its next ID token on, a refresh included', async () => {
    op = await startDevProvider({ clients: [WEB_CLIENT], claims: { tenant: 'acme' } })
    const before = await signedIn(op)
    op.setClaims('alice', { tenant: 'globex' })
    const refreshed = (await (await refresh(op, before.refresh_token ?? '')).json()) as {
      id_token: string
    }
    expect(decodeJwt(refreshed.id_token)).toMatchObject({ tenant: 'globex' })
    // another account keeps its own
    expect(decodeJwt((await signedIn(op, 'bob')).id_token ?? '')).toMatchObject({
      tenant: 'acme',
    })
  })

  it('refuses a claim the provider does not release, and one it sets itself', async () => {
    op = await startDevProvider({ clients: [WEB_CLIENT] })
    expect(() => op?.setClaims('alice', { groups: ['x'] })).toThrow(/"groups" is not released/)
    expect(() => op?.setClaims('alice', { sub: 'mallory' })).toThrow(/"sub" is reserved/)
  })
})

describe('failNextRefresh', () => {
  it.each([
    ['invalid_grant', 400, 'invalid_grant'],
    ['server_error', 500, 'server_error'],
  ] as const)(
    'makes the next refresh fail with %s, and the one after it work',
    async (failure, status, error) => {
      op = await startDevProvider({ clients: [WEB_CLIENT] })
      const tokens = await signedIn(op)
      op.failNextRefresh(failure)
      // introspection looks refresh tokens up too: it is not the refresh, nor is it failed
      expect(await active(op, tokens.refresh_token ?? '')).toBe(true)
      const failed = await refresh(op, tokens.refresh_token ?? '')
      expect(failed.status).toBe(status)
      expect(((await failed.json()) as { error: string }).error).toBe(error)
      expect((await refresh(op, tokens.refresh_token ?? '')).status).toBe(200)
    },
  )

  it('makes the next refresh hang until the provider closes', async () => {
    op = await startDevProvider({ clients: [WEB_CLIENT] })
    const tokens = await signedIn(op)
    op.failNextRefresh('hang')
    let settled = false
    const pending = refresh(op, tokens.refresh_token ?? '').then(
      () => {
        settled = true
      },
      () => {
        settled = true
      },
    )
    // other requests are answered meanwhile
    expect((await signedIn(op, 'bob')).access_token).toEqual(expect.any(String))
    expect(settled).toBe(false)
    await op.close()
    await pending
    expect(settled).toBe(true)
  })

  it('refuses a failure it does not know', async () => {
    op = await startDevProvider({ clients: [WEB_CLIENT] })
    expect(() => op?.failNextRefresh('teapot' as never)).toThrow(
      /invalid_grant, server_error or hang/,
    )
  })
})

describe('revokeTokens and expireAccessTokens', () => {
  it('revokes every grant and token of an account, and no other', async () => {
    op = await startDevProvider({ clients: [WEB_CLIENT] })
    const alice = await signedIn(op)
    const bob = await signedIn(op, 'bob')
    expect(op.revokeTokens('alice')).toBeGreaterThan(0)
    const refused = await refresh(op, alice.refresh_token ?? '')
    expect(refused.status).toBe(400)
    expect(await active(op, alice.access_token)).toBe(false)
    expect(await active(op, bob.access_token)).toBe(true)
    expect((await refresh(op, bob.refresh_token ?? '')).status).toBe(200)
  })

  it('expires the access tokens of an account, its refresh token still working', async () => {
    op = await startDevProvider({ clients: [WEB_CLIENT] })
    const alice = await signedIn(op)
    expect(await active(op, alice.access_token)).toBe(true)
    expect(op.expireAccessTokens('alice')).toBe(1)
    expect(await active(op, alice.access_token)).toBe(false)
    expect((await refresh(op, alice.refresh_token ?? '')).status).toBe(200)
  })
})

describe('backchannelLogout', () => {
  it('sends a logout token to each client of the account, and ends its provider sessions', async () => {
    const { received, client, close } = await logoutReceiver()
    try {
      op = await startDevProvider({ clients: [client] })
      const jar = new CookieJar()
      const tokens = await exchangeCode(op, client, await authorize(op, jar, client))
      await signedIn(op, 'bob', client)
      expect(await op.backchannelLogout('alice')).toEqual([{ clientId: 'web', ok: true }])
      expect(received).toHaveLength(1)
      const token = decodeJwt(received[0] ?? '')
      expect(token).toMatchObject({ iss: op.issuer, aud: 'web', sub: 'alice' })
      expect(token.sid).toBe(decodeJwt(tokens.id_token ?? '').sid)
      // its provider sessions are over, and its grants: nothing is left to log out, no token
      expect(await active(op, tokens.access_token)).toBe(false)
      expect(await op.backchannelLogout('alice')).toEqual([])
    } finally {
      close()
    }
  })
})

describe('issueTokens', () => {
  it('issues an account tokens without a login, whose refresh works like a code exchange', async () => {
    op = await startDevProvider({ clients: [WEB_CLIENT], claims: { tenant: 'acme' } })
    const issued = await op.issueTokens({ accountId: 'carol' })
    expect(issued.scope).toBe('openid profile email offline_access')
    expect(issued.expiresAt).toBeGreaterThan(Date.now() / 1000)
    expect(await active(op, issued.accessToken)).toBe(true)
    const refreshed = await refresh(op, issued.refreshToken)
    expect(refreshed.status).toBe(200)
    const tokens = (await refreshed.json()) as { id_token: string; refresh_token: string }
    expect(decodeJwt(tokens.id_token)).toMatchObject({
      sub: 'carol',
      aud: 'web',
      tenant: 'acme',
      email: 'carol@example.test',
    })
    expect(tokens.refresh_token).not.toBe(issued.refreshToken)
    await expect(op.issueTokens({ accountId: 'carol', clientId: 'nobody' })).rejects.toThrow(
      /no client "nobody"/,
    )
  })
})

describe('rotateKeys', () => {
  it('signs with a new key from then on, keeping the previous one published', async () => {
    op = await startDevProvider({ clients: [WEB_CLIENT] })
    const before = await signedIn(op)
    const oldKid = decodeProtectedHeader(before.id_token ?? '').kid
    const { kid } = await op.rotateKeys()
    expect(kid).not.toBe(oldKid)
    const jwks = (await (await fetch(new URL('/jwks', op.issuer))).json()) as {
      keys: { kid: string }[]
    }
    expect(jwks.keys.map((key) => key.kid)).toEqual([kid, oldKid])
    // new logins, and refreshes of grants made before, are signed with the new key
    const after = await signedIn(op, 'bob')
    expect(decodeProtectedHeader(after.id_token ?? '').kid).toBe(kid)
    const refreshed = (await (await refresh(op, before.refresh_token ?? '')).json()) as {
      id_token: string
    }
    expect(decodeProtectedHeader(refreshed.id_token).kid).toBe(kid)
    // a second rotation drops the first key
    const third = await op.rotateKeys()
    const now = (await (await fetch(new URL('/jwks', op.issuer))).json()) as {
      keys: { kid: string }[]
    }
    expect(now.keys.map((key) => key.kid)).toEqual([third.kid, kid])
  })
})

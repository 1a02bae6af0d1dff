import {
  createLocalJWKSet,
  decodeProtectedHeader,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  jwtVerify,
} from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DevProvider, startDevProvider } from '../src/index.js'

describe('DevProvider.signLogoutToken', () => {
  let op: DevProvider
  let jwks: JSONWebKeySet
  let keys: ReturnType<typeof createLocalJWKSet>
  beforeAll(async () => {
    op = await startDevProvider({
      clients: [{ clientId: 'app', redirectUris: ['http://127.0.0.1:3000/callback'] }],
    })
    jwks = (await (await fetch(`${op.issuer}/jwks`)).json()) as JSONWebKeySet
    keys = createLocalJWKSet(jwks)
  })
  afterAll(() => op.close())

  it("signs a back-channel logout token with the provider's own key, valid by default", async () => {
    const token = await op.signLogoutToken({ sid: 'abc' })
    const { payload, protectedHeader } = await jwtVerify(token, keys, {
      issuer: op.issuer,
      audience: 'app',
      typ: 'logout+jwt',
      algorithms: ['RS256'],
    })
    expect(protectedHeader.kid).toBeTruthy()
    expect(payload).toMatchObject({
      sid: 'abc',
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    })
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(120)
    expect(payload.jti).toMatch(/^[\w-]{22}$/)
    expect((await op.signLogoutToken()).length).toBeGreaterThan(0)
    expect(decodeProtectedHeader(await op.signLogoutToken()).kid).toBe(protectedHeader.kid)
  })

  it('merges claims and header members, and leaves out those set to undefined', async () => {
    const token = await op.signLogoutToken(
      { sub: 'alice', iat: 1000, exp: undefined, events: undefined, nonce: 'n' },
      { typ: undefined, alg: 'RS384' },
    )
    const header = decodeProtectedHeader(token)
    expect(header.typ).toBeUndefined()
    expect(header.alg).toBe('RS384')
    // the provider's RSA key, which its JWKS pins to RS256, used for RS384 as asked
    const { alg: _alg, ...publicJwk } = jwks.keys[0] as JWK
    const key = await importJWK(publicJwk, 'RS384')
    const { payload } = await jwtVerify(token, key, { currentDate: new Date(1000_000) })
    expect(payload.exp).toBeUndefined()
    expect(payload.events).toBeUndefined()
    expect(payload).toMatchObject({ sub: 'alice', iat: 1000, nonce: 'n', aud: 'app' })
  })
})

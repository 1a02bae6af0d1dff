/**
 * Client authentication by JWT assertion (RFC 7523, OIDC Core 9): client_secret_jwt and
 * private_key_jwt (RSA, PS256, EC, Ed25519 keys), against oidc-provider registering the client with
 * that method only, so any other authentication is refused. On every harness: the login's code
 * exchange, a refresh, and the revocation at logout authenticate with a fresh assertion; a key the
 * provider does not know fails the login with 502 and a hint naming "clientPrivateKey".
 */
import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import { authorize, signIn, startLogin } from './support/flow.js'
import { captureLogs } from './support/logs.js'
import { type Instance, type Stack, startStack } from './support/stack.js'

/** A private JWK of the given type, with a kid, and its public half. */
function keyPair(type: 'rsa' | 'ec' | 'ed25519', alg: string) {
  const { privateKey } =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519')
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: `client-${alg}`, alg }
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk
  return { privateJwk: jwk, publicJwk }
}

// an HS256 key of at least 256 bits, as RFC 7518 §3.2 asks
const LONG_SECRET = 'a-client-secret-long-enough-for-hs256-assertions'

const methods = [
  { name: 'client_secret_jwt (HS256)', method: 'client_secret_jwt' as const },
  {
    name: 'private_key_jwt, RS256',
    method: 'private_key_jwt' as const,
    key: keyPair('rsa', 'RS256'),
  },
  {
    name: 'private_key_jwt, PS256',
    method: 'private_key_jwt' as const,
    key: keyPair('rsa', 'PS256'),
  },
  {
    name: 'private_key_jwt, ES256',
    method: 'private_key_jwt' as const,
    key: keyPair('ec', 'ES256'),
  },
  {
    name: 'private_key_jwt, EdDSA',
    method: 'private_key_jwt' as const,
    key: keyPair('ed25519', 'EdDSA'),
  },
]

describe.each(harnesses)('JWT client authentication ($name)', (harness) => {
  describe.each(methods)('$name', ({ method, key }) => {
    let stack: Stack
    const providerLog: string[] = []
    beforeAll(async () => {
      stack = await startStack(harness, {
        provider: { logger: (line) => providerLog.push(line), ttl: { accessToken: 30 } },
        providerClient: {
          tokenEndpointAuthMethod: method,
          clientSecret: LONG_SECRET,
          ...(key ? { jwks: { keys: [key.publicJwk] } } : {}),
        },
        auth: {
          clientAuth: method,
          ...(key
            ? { clientPrivateKey: key.privateJwk, clientSecret: undefined }
            : { clientSecret: LONG_SECRET }),
        },
      })
    })
    afterAll(() => stack?.close())

    it('signs in, refreshes and revokes with an assertion the provider accepts', async () => {
      const browser = stack.browser()
      const tokens = stack.provider.counts('token')
      await signIn(browser, stack.baseUrl)
      expect(stack.provider.counts('token')).toBe(tokens + 1)
      expect((await browser.request(`${stack.baseUrl}/api/me`)).json().sub).toBe('alice')

      // the access token (30 s) is within the refresh margin (60 s) at once: /api/token refreshes
      // it (no fake time: next start's clock would date the assertions in the provider's future)
      const refreshed = await browser.request(`${stack.baseUrl}/api/token`)
      expect(refreshed.status).toBe(200)
      expect(stack.provider.counts('token')).toBeGreaterThan(tokens + 1)

      const revocations = stack.provider.counts('revocation')
      const logout = await browser.postForm(
        `${stack.baseUrl}/logout`,
        {},
        { origin: stack.baseUrl },
      )
      expect(logout.status).toBe(303)
      expect(stack.provider.counts('revocation')).toBe(revocations + 1)
      // the provider accepted every request's client authentication
      expect(providerLog.filter((line) => /invalid_client/.test(line))).toEqual([])
    })
  })

  describe('clientPrivateKey without clientAuth', () => {
    let stack: Stack
    const key = keyPair('ec', 'ES256')
    beforeAll(async () => {
      stack = await startStack(harness, {
        providerClient: {
          tokenEndpointAuthMethod: 'private_key_jwt',
          jwks: { keys: [key.publicJwk] },
        },
        auth: { clientSecret: undefined, clientPrivateKey: key.privateJwk },
      })
    })
    afterAll(() => stack?.close())

    it('authenticates with private_key_jwt, which the provider offers', async () => {
      const browser = stack.browser()
      await signIn(browser, stack.baseUrl)
      expect((await browser.request(`${stack.baseUrl}/api/me`)).json().sub).toBe('alice')
    })
  })

  describe('a private key the provider does not hold', () => {
    let stack: Stack
    const registered = keyPair('ec', 'ES256')
    const other = keyPair('ec', 'ES256')
    beforeAll(async () => {
      stack = await startStack(harness, {
        providerClient: {
          tokenEndpointAuthMethod: 'private_key_jwt',
          jwks: { keys: [registered.publicJwk] },
        },
        auth: {
          clientAuth: 'private_key_jwt',
          clientSecret: undefined,
          // the same kid, another key: the assertion's signature does not verify
          clientPrivateKey: { ...other.privateJwk, kid: registered.privateJwk.kid },
        },
      })
    })
    afterAll(() => stack?.close())

    it('fails the callback with 502 and no session', async () => {
      const browser = stack.browser()
      const callback = await authorize(browser, await startLogin(browser, stack.baseUrl))
      const response = await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
      expect(response.status).toBe(502)
      expect(response.setCookies.some((c) => /^codeflow=[^;]/.test(c))).toBe(false)
      expect((await browser.request(`${stack.baseUrl}/api/me`)).status).toBe(401)
    })
  })

  describe('a key whose algorithm the provider does not list', () => {
    let stack: Stack
    // oidc-provider's default token_endpoint_auth_signing_alg_values_supported has no ES384
    const key = (() => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' })
      const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'client-es384' }
      const { d: _d, ...publicJwk } = jwk
      return { privateJwk: jwk, publicJwk }
    })()
    beforeAll(async () => {
      stack = await startStack(harness, {
        providerClient: {
          tokenEndpointAuthMethod: 'private_key_jwt',
          jwks: { keys: [key.publicJwk] },
        },
        auth: {
          clientAuth: 'private_key_jwt',
          clientSecret: undefined,
          clientPrivateKey: key.privateJwk,
        },
      })
    })
    afterAll(() => stack?.close())

    it('refuses the login before the provider sees it (502), naming the metadata and the option', async () => {
      const logs = captureLogs(stack.instances[0] as Instance)
      const tokens = stack.provider.counts('authorization')
      const response = await stack.browser().navigate(`${stack.baseUrl}/login`)
      logs.stop()
      expect(response.status).toBe(502)
      expect(stack.provider.counts('authorization')).toBe(tokens)
      expect(logs.lines().join('\n')).toMatch(
        /token_endpoint_auth_signing_alg_values_supported\), but "clientPrivateKey" signs with ES384/,
      )
    })
  })
})

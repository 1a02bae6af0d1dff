/**
 * Pushed Authorization Requests (RFC 9126) and signed request objects (JAR, RFC 9101), against
 * oidc-provider requiring them, on every harness: chosen from the provider's metadata without any
 * option, the browser carries only `client_id` and `request_uri` (PAR) or a signed `request`
 * (JAR), the sign-in completes; a pushed request the provider refuses is a 502 at /login with no
 * transaction cookie; a request_uri cannot be used twice; JAR required without a key is a 502
 * naming "clientPrivateKey".
 */
import { generateKeyPairSync } from 'node:crypto'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import { authorize, signIn, startLogin } from './support/flow.js'
import { type Stack, startStack } from './support/stack.js'

function ecKey() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'request-objects', alg: 'ES256' }
  const { d: _d, ...publicJwk } = jwk
  return { privateJwk: jwk, publicJwk }
}

describe.each(harnesses)('pushed authorization requests ($name)', (harness) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(harness, {
      provider: { require: { pushedAuthorizationRequests: true } },
    })
  })
  afterAll(() => stack?.close())

  it('pushes the request when the provider requires it: the browser gets client_id and request_uri only', async () => {
    const browser = stack.browser()
    const pushed = stack.provider.counts('par')
    const login = await startLogin(browser, stack.baseUrl)
    expect(login.status).toBe(302)
    const location = login.location as URL
    expect(location.origin + location.pathname).toBe(`${stack.provider.issuer}/auth`)
    expect([...location.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri'])
    expect(location.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/)
    expect(stack.provider.counts('par')).toBe(pushed + 1)
  })

  it('signs in through the pushed request', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    expect((await browser.request(`${stack.baseUrl}/api/me`)).json().sub).toBe('alice')
  })

  it('a replayed request_uri signs no one in: the callback has no transaction in that browser', async () => {
    const browser = stack.browser()
    const login = await startLogin(browser, stack.baseUrl)
    const replay = login.location as URL
    const callback = await authorize(browser, login)
    expect((await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })).status).toBe(302)
    // the same authorization URL again, in another browser: the pushed request is used up
    const attacker = stack.browser()
    const again = await authorize(
      attacker,
      await attacker.navigate(replay, { 'sec-fetch-site': 'cross-site' }),
      'mallory',
    )
    const landed = await attacker.navigate(again, { 'sec-fetch-site': 'cross-site' })
    expect(landed.status).toBe(400)
    expect(landed.setCookies.some((c) => /^codeflow=[^;]/.test(c))).toBe(false)
    expect((await attacker.request(`${stack.baseUrl}/api/me`)).status).toBe(401)
  })
})

describe.each(harnesses)('a pushed request the provider refuses ($name)', (harness) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(harness, {
      // the provider knows another redirect URI: it refuses the pushed request (invalid_redirect_uri)
      providerClient: { redirectUris: ['http://localhost:9/callback'] },
      auth: { pushedAuthorizationRequests: true },
    })
  })
  afterAll(() => stack?.close())

  it('answers /login with 502, and leaves no transaction cookie', async () => {
    const browser = stack.browser()
    const response = await startLogin(browser, stack.baseUrl)
    expect(response.status).toBe(502)
    expect(response.location).toBeUndefined()
    expect(response.setCookies.filter((c) => c.startsWith('codeflow_tx.'))).toEqual([])
  })
})

describe.each(harnesses)('signed request objects ($name)', (harness) => {
  const key = ecKey()
  let stack: Stack
  let both: Stack
  beforeAll(async () => {
    const client = { jwks: { keys: [key.publicJwk] } }
    stack = await startStack(harness, {
      provider: { require: { requestObjects: true } },
      providerClient: client,
      auth: { clientPrivateKey: key.privateJwk, clientAuth: 'client_secret_basic' },
    })
    both = await startStack(harness, {
      provider: { require: { requestObjects: true, pushedAuthorizationRequests: true } },
      providerClient: client,
      auth: { clientPrivateKey: key.privateJwk, clientAuth: 'client_secret_basic' },
    })
  })
  afterAll(async () => {
    await stack?.close()
    await both?.close()
  })

  it('sends a request object signed with the client key when the provider requires it', async () => {
    const browser = stack.browser()
    const login = await startLogin(browser, stack.baseUrl)
    const location = login.location as URL
    // OIDC Core §6.1: response_type and scope beside the request object, with the same values
    expect([...location.searchParams.keys()].sort()).toEqual([
      'client_id',
      'request',
      'response_type',
      'scope',
    ])
    expect(location.searchParams.get('response_type')).toBe('code')
    expect(location.searchParams.get('scope')).toBe(stack.options.scope)
    const request = location.searchParams.get('request') as string
    expect(decodeProtectedHeader(request)).toMatchObject({ alg: 'ES256', kid: 'request-objects' })
    const claims = decodeJwt(request)
    expect(claims).toMatchObject({
      iss: stack.options.clientId,
      aud: stack.provider.issuer,
      redirect_uri: `${stack.baseUrl}/callback`,
      code_challenge_method: 'S256',
    })
    expect(typeof claims.exp).toBe('number')
    await signIn(browser, stack.baseUrl)
    expect((await browser.request(`${stack.baseUrl}/api/me`)).json().sub).toBe('alice')
  })

  it('pushes the signed request object when the provider requires both', async () => {
    const browser = both.browser()
    const login = await startLogin(browser, both.baseUrl)
    expect([...(login.location as URL).searchParams.keys()].sort()).toEqual([
      'client_id',
      'request_uri',
    ])
    const callback = await authorize(browser, login)
    const done = await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
    expect(done.status).toBe(302)
    expect((await browser.request(`${both.baseUrl}/api/me`)).json().sub).toBe('alice')
  })
})

describe.each(harnesses)('a request object the provider refuses ($name)', (harness) => {
  const key = ecKey()
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(harness, {
      provider: { require: { requestObjects: true } },
      // registered for RS256 request objects: codeflow signs ES256 with its key
      providerClient: { jwks: { keys: [key.publicJwk] }, requestObjectSigningAlg: 'RS256' },
      auth: { clientPrivateKey: key.privateJwk, clientAuth: 'client_secret_basic' },
    })
  })
  afterAll(() => stack?.close())

  it("ends at the callback with the provider's error page, 4xx, no session", async () => {
    const browser = stack.browser()
    const login = await startLogin(browser, stack.baseUrl)
    expect(login.status).toBe(302)
    // the provider refuses the request object and sends the browser back with the error
    const refused = await browser.navigate(login.location as URL, {
      'sec-fetch-site': 'cross-site',
    })
    expect(refused.status).toBe(303)
    const back = refused.location as URL
    expect(back.origin + back.pathname).toBe(`${stack.baseUrl}/callback`)
    expect(back.searchParams.get('error')).toBe('invalid_request_object')
    const landed = await browser.navigate(back, { 'sec-fetch-site': 'cross-site' })
    expect(landed.status).toBe(400)
    expect(landed.setCookies.some((c) => /^codeflow=[^;]/.test(c))).toBe(false)
    expect((await browser.request(`${stack.baseUrl}/api/me`)).status).toBe(401)
  })
})

describe.each(harnesses)('request objects required, no client key ($name)', (harness) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(harness, { provider: { require: { requestObjects: true } } })
  })
  afterAll(() => stack?.close())

  it('answers /login with 502 (the configuration, not an outage)', async () => {
    const response = await startLogin(stack.browser(), stack.baseUrl)
    expect(response.status).toBe(502)
    expect(response.header('retry-after')).toBeUndefined()
  })
})

/**
 * DPoP (RFC 9449) on every harness, against oidc-provider issuing this client DPoP-bound tokens
 * only: a key pair per session, proofs at the code exchange, userinfo, the refresh and the calls
 * to an API that verifies each proof and the token's binding at the provider; the API's nonce
 * challenge answered once; a provider that answers Bearer to a DPoP login refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Harness, harnesses } from './harness/index.js'
import { type DPoPResourceServer, startDPoPResourceServer } from './support/dpop-resource-server.js'
import { authorize, signIn, startLogin } from './support/flow.js'
import {
  CLIENT_ID,
  CLIENT_SECRET,
  type Stack,
  type StackOptions,
  startStack,
} from './support/stack.js'

/**
 * A DPoP-checking API and a stack calling it from /api/call, with a 30 s access token (within the
 * refresh margin at once, so /api/token refreshes); the API introspects as the stack's client.
 */
async function startDPoPStack(harness: Harness, options: StackOptions) {
  const api = await startDPoPResourceServer()
  const stack = await startStack(harness, {
    ...options,
    apiUrl: `${api.url}/orders`,
    provider: { ttl: { accessToken: 30 } },
  })
  api.introspection = {
    issuer: stack.provider.issuer,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
  }
  return { api, stack }
}

describe.each(harnesses)('DPoP ($name)', (harness) => {
  let api: DPoPResourceServer
  let stack: Stack
  beforeAll(async () => {
    ;({ api, stack } = await startDPoPStack(harness, {
      providerClient: { dpopBoundAccessTokens: true },
      auth: { dpop: true, fetchUserinfo: true },
    }))
  })
  afterAll(async () => {
    await stack?.close()
    await api?.close()
  })

  it('signs in (userinfo with a proof) and calls the API with a proof for a token bound to the key', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    expect((await browser.request(`${stack.baseUrl}/api/me`)).json().sub).toBe('alice')
    const call = await browser.request(`${stack.baseUrl}/api/call`)
    expect(call.status).toBe(200)
    expect(call.json().body).toMatchObject({ sub: 'alice' })
    expect(api.verdicts.at(-1)).toBe('ok')
  })

  it('a fresh jti per call (a replay-checking API accepts every call), the same key per session', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const before = api.keys.length
    for (let i = 0; i < 3; i++) {
      expect((await browser.request(`${stack.baseUrl}/api/call`)).json().status).toBe(200)
    }
    const used = api.keys.slice(before)
    expect(used).toHaveLength(3)
    expect(new Set(used).size).toBe(1)
  })

  it('gives each session a key of its own', async () => {
    const jkt = async () => {
      const browser = stack.browser()
      await signIn(browser, stack.baseUrl)
      return (
        (await browser.request(`${stack.baseUrl}/api/call`)).json() as { body: { jkt: string } }
      ).body.jkt
    }
    const [first, second] = [await jkt(), await jkt()]
    expect(first).toMatch(/^[\w-]{43}$/)
    expect(second).not.toBe(first)
  })

  it('refreshes with a proof: the new token is bound to the same key and works at the API', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const key = (
      (await browser.request(`${stack.baseUrl}/api/call`)).json() as { body: { jkt: string } }
    ).body.jkt
    const tokens = stack.provider.counts('token')
    expect((await browser.request(`${stack.baseUrl}/api/token`)).status).toBe(200)
    expect(stack.provider.counts('token')).toBeGreaterThan(tokens)
    const after = await browser.request(`${stack.baseUrl}/api/call`)
    expect(after.json()).toMatchObject({ status: 200, body: { jkt: key } })
  })

  it("answers the API's use_dpop_nonce challenge once, with a new proof carrying the nonce", async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    api.requireNonce = true
    try {
      const before = api.verdicts.length
      const call = await browser.request(`${stack.baseUrl}/api/call`)
      expect(call.json().status).toBe(200)
      // the nonce is remembered for that API: this call, and the next, need no challenge
      expect(api.verdicts.slice(before)).toEqual(['nonce', 'ok'])
      expect((await browser.request(`${stack.baseUrl}/api/call`)).json().status).toBe(200)
      expect(api.verdicts.at(-1)).toBe('ok')
    } finally {
      api.requireNonce = false
    }
  })
})

describe.each(harnesses)('DPoP: parallel calls, and turning dpop on or off ($name)', (harness) => {
  let api: DPoPResourceServer
  let stack: Stack
  beforeAll(async () => {
    ;({ api, stack } = await startDPoPStack(harness, { auth: { dpop: true } }))
  })
  afterAll(async () => {
    await stack?.close()
    await api?.close()
  })

  it('answers a new nonce challenge for each of several parallel calls', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    api.requireNonce = true
    api.rotateNonce()
    try {
      const calls = await Promise.all(
        Array.from({ length: 4 }, () => browser.request(`${stack.baseUrl}/api/call`)),
      )
      expect(calls.map((call) => call.json().status)).toEqual([200, 200, 200, 200])
    } finally {
      api.requireNonce = false
    }
  })

  it('keeps proving a DPoP session after dpop is turned off, until it ends', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const instance = stack.instances[0] as (typeof stack.instances)[0]
    await instance.restart({ dpop: false })
    try {
      // the token is bound to the session's key: it is still sent with a proof, and refreshed with one
      expect((await browser.request(`${stack.baseUrl}/api/token`)).status).toBe(200)
      const call = await browser.request(`${stack.baseUrl}/api/call`)
      expect(call.json()).toMatchObject({ status: 200, body: { sub: 'alice' } })
      expect(api.verdicts.at(-1)).toBe('ok')
    } finally {
      await instance.restart({ dpop: true })
    }
  })

  it('signs a session from before dpop was on out at its refresh: its tokens are not bound', async () => {
    const instance = stack.instances[0] as (typeof stack.instances)[0]
    await instance.restart({ dpop: false })
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    await instance.restart({ dpop: true })
    // the 30 s token is refreshed at once: the session has no key, so it ends
    const token = await browser.request(`${stack.baseUrl}/api/token`)
    expect(token.status).toBe(401)
    expect((await browser.request(`${stack.baseUrl}/api/me`)).status).toBe(401)
  })
})

describe.each(harnesses)('DPoP asked, Bearer answered ($name)', (harness) => {
  let stack: Stack
  beforeAll(async () => {
    // a provider that does not speak DPoP ignores the proof and issues a Bearer token
    stack = await startStack(harness, { provider: { dpop: false }, auth: { dpop: true } })
  })
  afterAll(() => stack?.close())

  it('refuses the login: 502, no session (the token would not be sender-constrained), and revokes its refresh token', async () => {
    const browser = stack.browser()
    const callback = await authorize(browser, await startLogin(browser, stack.baseUrl))
    const revocations = stack.provider.counts('revocation')
    const response = await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
    expect(response.status).toBe(502)
    expect(stack.provider.counts('revocation')).toBe(revocations + 1)
    expect(response.setCookies.some((c) => /^codeflow=[^;]/.test(c))).toBe(false)
    expect((await browser.request(`${stack.baseUrl}/api/me`)).status).toBe(401)
  })
})

/**
 * Attacks by a hostile OpenID Provider on every adapter (issue 8): forged ID tokens at the code
 * exchange, a wrong or missing RFC 9207 `iss`, unknown-`kid` floods, and a
 * broken, hanging or redirecting token endpoint under a small `httpTimeout`. Each one ends
 * without a session, with 400 when the browser brought the fault and 502/504 when the provider did.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import { expectAnonymous, expectRefused } from './support/attacks.js'
import type { Browser, BrowserResponse } from './support/browser.js'
import { authorize, startLogin } from './support/flow.js'
import type { IdTokenForgery, TokenFault } from './support/scripted-provider.js'
import { type ScriptedStack, startScriptedStack } from './support/stack.js'

const HTTP_TIMEOUT = 1500

const FORGERIES: readonly IdTokenForgery[] = [
  'wrong_nonce',
  'alg_none',
  'hs256_client_secret',
  'wrong_aud',
  'extra_aud',
  'wrong_azp',
  'wrong_iss',
  'expired',
  'future_iat',
  'foreign_key',
  'foreign_key_unknown_kid',
  'missing',
  'no_sub',
]

const FAULTS: readonly TokenFault[] = [
  'html_500',
  'bad_json',
  'huge_body',
  'redirect',
  'error_json',
  'no_access_token',
]

describe.each(harnesses)('hostile provider ($name)', (harness) => {
  let stack: ScriptedStack
  beforeAll(async () => {
    stack = await startScriptedStack(harness, { auth: { httpTimeout: HTTP_TIMEOUT } })
  })
  afterAll(() => stack?.close())
  afterEach(() => {
    stack.provider.forgery = undefined
    stack.provider.tokenFault = undefined
    stack.provider.issParameter = 'correct'
  })

  /** A whole login against the scripted provider; the callback's response. */
  async function login(browser: Browser): Promise<BrowserResponse> {
    const callback = await authorize(browser, await startLogin(browser, stack.baseUrl))
    return browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
  }

  it.each(FORGERIES)('refuses a forged ID token (%s): 502, no session', async (forgery) => {
    stack.provider.forgery = forgery
    const browser = stack.browser()
    const before = stack.provider.counts('token')
    const response = await login(browser)
    expectRefused(response, 502)
    expect(stack.provider.counts('token')).toBe(before + 1)
    await expectAnonymous(browser, stack.baseUrl)
  })

  it('refuses an ID token with 200 KB of claims cleanly, never a 500', async () => {
    stack.provider.forgery = 'huge_claims'
    const browser = stack.browser()
    expectRefused(await login(browser), [502])
    await expectAnonymous(browser, stack.baseUrl)
  })

  it('keeps __proto__ and constructor claims as plain data (no prototype pollution)', async () => {
    stack.provider.forgery = 'proto_claims'
    const browser = stack.browser()
    const response = await login(browser)
    expect(response.status).toBe(302)
    const me = await browser.request(`${stack.baseUrl}/api/me`)
    expect(me.status).toBe(200)
    expect(me.json().admin).toBeUndefined()
    expect(({} as Record<string, unknown>).admin).toBeUndefined()
  })

  it.each(['missing', 'wrong'] as const)(
    'refuses a %s RFC 9207 "iss" before any token request',
    async (iss) => {
      stack.provider.issParameter = iss
      const browser = stack.browser()
      const before = stack.provider.counts('token')
      expectRefused(await login(browser), 400)
      expect(stack.provider.counts('token')).toBe(before)
      await expectAnonymous(browser, stack.baseUrl)
    },
  )

  it('fetches the JWKS at most once for a flood of unknown kids', async () => {
    stack.provider.forgery = 'foreign_key_unknown_kid'
    const before = stack.provider.counts('jwks')
    for (let i = 0; i < 8; i++) expectRefused(await login(stack.browser()), 502)
    // an unknown kid refetches the key set at most once per cooldown (a rotation is followed at
    // once: test/real-providers.test.ts)
    expect(stack.provider.counts('jwks') - before).toBeLessThanOrEqual(1)
  })

  it.each(FAULTS)('answers 502 to a broken token endpoint (%s), no session', async (fault) => {
    stack.provider.tokenFault = fault
    const browser = stack.browser()
    const response = await login(browser)
    expectRefused(response, 502)
    expect(response.body).not.toContain('onerror')
    await expectAnonymous(browser, stack.baseUrl)
  })

  it('answers 504 within the deadline when the token endpoint hangs', async () => {
    stack.provider.tokenFault = 'hang'
    const browser = stack.browser()
    const started = Date.now()
    const response = await login(browser)
    expectRefused(response, 504)
    expect(Date.now() - started).toBeLessThan(HTTP_TIMEOUT + 2500)
    await expectAnonymous(browser, stack.baseUrl)
  })

  it('still signs in honestly after all those attacks', async () => {
    const browser = stack.browser()
    expect((await login(browser)).status).toBe(302)
    expect((await browser.request(`${stack.baseUrl}/api/me`)).status).toBe(200)
  })
})

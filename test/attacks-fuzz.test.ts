/**
 * Property tests with fast-check on every adapter (issue 8): arbitrary callback parameters,
 * cookies and returnTo values never cause a 500, never make a session, and never redirect
 * off-origin. Runs are bounded (numRuns) to keep each harness under a few seconds.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import { expectSameOrigin, MARKUP, setsSession } from './support/attacks.js'
import type { Browser } from './support/browser.js'
import { authorize, startLogin } from './support/flow.js'
import { type ScriptedStack, startScriptedStack } from './support/stack.js'

const CROSS_SITE = { 'sec-fetch-site': 'cross-site' }

/** Pieces that open-redirect payloads are made of. */
const REDIRECT_PIECES = [
  '/',
  '//',
  '\\',
  '%2F',
  '%2f',
  '%5C',
  '%252F',
  '%25',
  '@',
  ':',
  '.',
  '..',
  '#',
  '?',
  '%00',
  '%0d%0a',
  '\t',
  '\n',
  ' ',
  '\u3002',
  '\uFF0F',
  'ｅｖｉｌ',
  'evil.example',
  'localhost',
  'http:',
  'https:',
  'javascript:',
  'data:',
  'user:pass@',
  MARKUP,
]

/** Arbitrary text, sometimes markup or a payload piece. */
const text = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom(MARKUP, '', 'A'.repeat(43), '"\'><svg onload=x>', '%00', '..%2F'),
)

/** A printable cookie value (what a client can put in a Cookie header). */
const cookieValue = fc.oneof(
  fc.stringMatching(/^[\x21-\x2b\x2d-\x3a\x3c-\x7e]{0,300}$/),
  fc.constantFrom('Fe26.2**', 'Fe26.2*1*a*b*c*d*e*f*g', '', '""'),
)

describe.each(harnesses)('fuzzing ($name)', (harness) => {
  let stack: ScriptedStack
  beforeAll(async () => {
    stack = await startScriptedStack(harness, { auth: { httpTimeout: 1500 } })
  })
  afterAll(() => stack?.close())

  it('never answers arbitrary callback parameters with a 500 or a session', async () => {
    const browser = stack.browser()
    const start = await startLogin(browser, stack.baseUrl)
    const state = (start.location as URL).searchParams.get('state') as string
    const parameter = fc.oneof(text, fc.constant(state))
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            state: parameter,
            code: text,
            iss: fc.oneof(text, fc.constant(stack.provider.issuer)),
            error: fc.oneof(text, fc.constantFrom('access_denied', 'server_error')),
            error_description: text,
            extra: text,
          },
          { requiredKeys: [] },
        ),
        async (params) => {
          const query = new URLSearchParams(params as Record<string, string>).toString()
          const response = await browser.navigate(`${stack.baseUrl}/callback?${query}`, CROSS_SITE)
          expect([400, 403, 502], `${query}: ${response.status}`).toContain(response.status)
          expect(response.header('cache-control')).toBe('no-store')
          expect(response.setCookies.filter(setsSession)).toEqual([])
          expect(response.body).not.toContain('<script>')
          expect(response.body).not.toContain('<svg')
        },
      ),
      { numRuns: 80 },
    )
    expect((await browser.request(`${stack.baseUrl}/api/me`)).status).toBe(401)
  })

  it('treats arbitrary and mutated cookies as anonymous, never a 500', async () => {
    const owner = stack.browser()
    const callback = await authorize(owner, await startLogin(owner, stack.baseUrl))
    expect((await owner.navigate(callback, CROSS_SITE)).status).toBe(302)
    const genuine = owner.cookie(stack.baseUrl, 'codeflow')?.value as string
    const name = fc.constantFrom(
      'codeflow',
      'codeflow.0',
      'codeflow.1',
      'codeflow_tx.AAAAAAAAAAAAAAAAAAAAAA',
      'codeflow_logout',
      '__proto__',
    )
    // iron-session's `~2` version suffix is outside the MAC: mutate the authenticated part
    const sealed = genuine.includes('~') ? genuine.lastIndexOf('~') : genuine.length
    const mutated = fc
      .tuple(fc.nat({ max: sealed - 1 }), fc.constantFrom('A', 'z', '*', '_', '-', ''))
      .map(([at, c]) => genuine.slice(0, at) + c + genuine.slice(at + 1))
      .filter((value) => value !== genuine)
    const browser: Browser = stack.browser()
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(name, fc.oneof(cookieValue, mutated)), { minLength: 1, maxLength: 6 }),
        async (pairs) => {
          const cookie = pairs.map(([n, v]) => `${n}=${v}`).join('; ')
          const me = await browser.request(`${stack.baseUrl}/api/me`, {
            headers: { cookie },
            cookies: false,
          })
          expect(me.status, cookie).toBe(401)
          expect(me.setCookies.filter(setsSession)).toEqual([])
          const callbackResponse = await browser.request(
            `${stack.baseUrl}/callback?state=AAAAAAAAAAAAAAAAAAAAAA&code=x&iss=${encodeURIComponent(stack.provider.issuer)}`,
            { headers: { cookie, ...CROSS_SITE }, cookies: false },
          )
          expect([400, 502], cookie).toContain(callbackResponse.status)
          expect(callbackResponse.setCookies.filter(setsSession)).toEqual([])
        },
      ),
      { numRuns: 60 },
    )
  })

  const payload = fc.oneof(
    fc
      .array(fc.constantFrom(...REDIRECT_PIECES), { minLength: 1, maxLength: 8 })
      .map((p) => p.join('')),
    fc.webUrl({ withQueryParameters: true, withFragments: true }),
    fc.string({ unit: 'binary', maxLength: 40 }),
  )

  it('never redirects off-origin at logout, whatever returnTo holds', async () => {
    const browser = stack.browser()
    await fc.assert(
      fc.asyncProperty(payload, async (returnTo) => {
        const query = new URLSearchParams({ returnTo }).toString()
        const response = await browser.postForm(
          `${stack.baseUrl}/logout?${query}`,
          {},
          { origin: stack.baseUrl },
        )
        expect(response.status).toBe(303)
        expectSameOrigin(response, stack.baseUrl, JSON.stringify(returnTo))
      }),
      { numRuns: 150 },
    )
  })

  it('never redirects off-origin after login, whatever returnTo holds', async () => {
    const browser = stack.browser()
    await fc.assert(
      fc.asyncProperty(payload, async (returnTo) => {
        const query = new URLSearchParams({ returnTo }).toString()
        const start = await browser.navigate(`${stack.baseUrl}/login?${query}`)
        expect(start.status).toBe(302)
        const landing = await browser.navigate(await authorize(browser, start), CROSS_SITE)
        expect(landing.status).toBe(302)
        expectSameOrigin(landing, stack.baseUrl, JSON.stringify(returnTo))
      }),
      { numRuns: 40 },
    )
  })
})

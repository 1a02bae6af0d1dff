import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import type { Browser } from './support/browser.js'
import { authorize, startLogin } from './support/flow.js'
import { type Stack, startStack } from './support/stack.js'

/** returnTo values as the app receives them (the test encodes them once more in the query). */
function openRedirectPayloads(origin: string): string[] {
  const host = new URL(origin).host
  return [
    'https://evil.example',
    'http://evil.example/profile',
    '//evil.example',
    '///evil.example',
    '////evil.example/',
    '/\\evil.example',
    '\\\\evil.example',
    '\\/evil.example',
    '/%5Cevil.example',
    '/%2F/evil.example',
    '%2F%2Fevil.example',
    '/%2F%2Fevil.example',
    '%252F%252Fevil.example',
    '/\t/evil.example',
    '/\n/evil.example',
    '\r\n//evil.example',
    '/%0d%0aSet-Cookie:%20a=b',
    '/%00//evil.example',
    ' //evil.example',
    'javascript:alert(1)',
    'JaVaScRiPt:alert(document.domain)',
    'data:text/html,<script>alert(1)</script>',
    'vbscript:msgbox(1)',
    `http://${host}@evil.example`,
    `http://evil.example#@${host}`,
    `http://evil.example?@${host}`,
    `http://${host}.evil.example/`,
    `https://${host}/profile`,
    'http:evil.example',
    'http:/evil.example',
    'evil.example',
    '.evil.example',
    '/\u2028/evil.example',
    '/\u3000/evil.example',
    '\ufeff//evil.example',
    '/\u0085/evil.example',
    '%E2%80%A8//evil.example',
    `//${host}@evil.example`,
    '/..//evil.example'.replace('/..', '\\..'),
    'https:\\\\evil.example',
  ]
}

describe.each(harnesses)('open redirects ($name)', (harness) => {
  let stack: Stack
  let browser: Browser
  beforeAll(async () => {
    stack = await startStack(harness)
    browser = stack.browser()
  })
  afterAll(() => stack?.close())

  async function landing(returnTo: string): Promise<URL> {
    const start = await startLogin(browser, stack.baseUrl, returnTo)
    expect(start.status).toBe(302)
    expect(start.location?.origin).toBe(stack.provider.issuer)
    const callback = await authorize(browser, start)
    const response = await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
    expect(response.status).toBe(302)
    return response.location as URL
  }

  it('never redirects off-origin after login, whatever returnTo holds', async () => {
    const payloads = openRedirectPayloads(stack.baseUrl)
    expect(payloads.length).toBeGreaterThanOrEqual(40)
    for (const payload of payloads) {
      const target = await landing(payload)
      expect(target.origin, JSON.stringify(payload)).toBe(stack.baseUrl)
      expect(target.host, JSON.stringify(payload)).toBe(new URL(stack.baseUrl).host)
    }
  })

  it('keeps same-origin targets, as absolute URLs on the configured origin', async () => {
    expect((await landing('/profile')).href).toBe(`${stack.baseUrl}/profile`)
    expect((await landing(`${stack.baseUrl}/profile?x=1`)).href).toBe(
      `${stack.baseUrl}/profile?x=1`,
    )
    expect((await landing('/api/me?q=a%20b#frag')).href).toBe(
      `${stack.baseUrl}/api/me?q=a%20b#frag`,
    )
  })

  it('never reflects returnTo into the login redirect', async () => {
    const start = await startLogin(browser, stack.baseUrl, '//evil.example')
    expect(start.location?.href).not.toContain('evil.example')
  })
})

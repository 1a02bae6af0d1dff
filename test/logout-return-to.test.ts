/**
 * RP-initiated logout on every adapter: a random `state` on the end-session request, and a
 * same-origin `returnTo` carried through the provider's logout and back (an off-origin one is
 * ignored); the provider's back-channel logout to the app succeeds on the way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import type { Browser, BrowserResponse } from './support/browser.js'
import { signIn } from './support/flow.js'
import { type Stack, startStack } from './support/stack.js'

describe.each(harnesses)('logout with returnTo ($name)', (harness) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(harness)
  })
  afterAll(() => stack?.close())

  /** Confirms the logout on the provider's page and follows it back to the app. */
  async function throughProvider(browser: Browser, endSession: URL): Promise<BrowserResponse> {
    const page = await browser.navigate(endSession, { 'sec-fetch-site': 'cross-site' })
    const action = /<form[^>]*action="([^"]+)"/.exec(page.body)?.[1] as string
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.body)?.[1] as string
    let response = await browser.postForm(new URL(action, page.url), { xsrf, logout: 'yes' })
    while (response.location && response.location.origin !== stack.baseUrl) {
      response = await browser.navigate(response.location)
    }
    // the provider's redirect to the post_logout_redirect_uri, with the state
    return response
  }

  it('sends a random state and lands on a same-origin returnTo after the provider', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const logout = await browser.postForm(
      `${stack.baseUrl}/logout`,
      { returnTo: '/profile?tab=security' },
      { origin: stack.baseUrl },
    )
    expect(logout.status).toBe(303)
    const endSession = logout.location as URL
    const state = endSession.searchParams.get('state')
    expect(state).toMatch(/^[\w-]{22}$/)
    const back = await throughProvider(browser, endSession)
    expect(back.location?.origin + (back.location?.pathname ?? '')).toBe(`${stack.baseUrl}/`)
    expect(back.location?.searchParams.get('state')).toBe(state)
    const landing = await browser.navigate(back.location as URL, { 'sec-fetch-site': 'cross-site' })
    expect(landing.status).toBe(302)
    expect(landing.location?.href).toBe(`${stack.baseUrl}/profile?tab=security`)
    // the logout cookie was used up: the home page is the app's again
    expect(browser.cookie(stack.baseUrl, 'codeflow_logout')).toBeUndefined()
    const home = await browser.navigate(back.location as URL)
    expect(home.status).toBe(200)
    expect(home.body).toContain('You are not signed in')
  })

  it('ignores an off-origin returnTo: the round trip ends on the home page', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const logout = await browser.postForm(
      `${stack.baseUrl}/logout?returnTo=${encodeURIComponent('https://evil.example/')}`,
      {},
      { origin: stack.baseUrl },
    )
    expect(logout.setCookies.some((c) => c.startsWith('codeflow_logout='))).toBe(false)
    const back = await throughProvider(browser, logout.location as URL)
    const home = await browser.navigate(back.location as URL, { 'sec-fetch-site': 'cross-site' })
    expect(home.status).toBe(200)
    expect(home.body).toContain('You are not signed in')
  })
})

/**
 * The whole sign-in and sign-out, in real Chromium: the app's pages, the dev provider's login,
 * consent and logout pages, redirects and cookies as a browser handles them.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import { launchChromium, offlineContext, recordErrors } from './support/chromium.js'
import { type Stack, startStack } from './support/stack.js'

const SCREENSHOT = '/tmp/codeflow-profile.png'

describe.each(harnesses)('browser ($name)', (harness) => {
  let stack: Stack | undefined
  let browser: Browser | undefined

  beforeAll(async () => {
    browser = await launchChromium()
    stack = await startStack(harness)
  })

  afterAll(async () => {
    await browser?.close()
    await stack?.close()
  })

  it('signs in through the provider, shows the profile, and signs out', {
    timeout: 60_000,
  }, async () => {
    if (!browser || !stack) throw new Error('setup failed')
    const { baseUrl } = stack
    const issuer = stack.provider.issuer
    const { context, blocked } = await offlineContext(browser)
    const page = await context.newPage()
    page.setDefaultTimeout(10_000)
    const errors = recordErrors(page)
    const where = () => `at ${page.url()}; error responses: ${JSON.stringify(errors)}`

    try {
      // anonymous home page
      const home = await page.goto(`${baseUrl}/`)
      expect(home?.status(), where()).toBe(200)
      await expect.poll(() => page.textContent('#status')).toContain('You are not signed in')

      // sign in: /login, then the provider's login page
      await Promise.all([page.waitForURL(`${issuer}/**`), page.click('#sign-in')])
      await page.waitForSelector('input[name="login"]')
      await page.fill('input[name="login"]', 'alice')
      await page.fill('input[name="password"]', 'any password')
      await page.click('button[type="submit"]')

      // consent page
      await page.waitForSelector('input[name="prompt"][value="consent"]', { state: 'attached' })
      await Promise.all([
        page.waitForURL(`${baseUrl}/profile`),
        page.click('button[type="submit"]'),
      ])
      expect(page.url(), where()).toBe(`${baseUrl}/profile`)
      expect(await page.textContent('#sub'), where()).toBe('alice')
      await page.screenshot({ path: SCREENSHOT, fullPage: true })

      // the session cookie(s)
      const cookies = await context.cookies(baseUrl)
      const session = cookies.filter((c) => c.name === 'codeflow' || /^codeflow\.\d+$/.test(c.name))
      expect(session.length, JSON.stringify(cookies)).toBeGreaterThan(0)
      for (const cookie of session) {
        expect(cookie).toMatchObject({
          domain: 'localhost',
          path: '/',
          httpOnly: true,
          sameSite: 'Lax',
        })
      }

      // sign out: POST /logout, the provider's confirmation page, back to /
      await Promise.all([page.waitForURL(`${issuer}/**`), page.click('#sign-out')])
      const confirm = page.locator('button[name="logout"][value="yes"]')
      await confirm.waitFor()
      // the provider sends the logout's `state` back with the browser (RP-Initiated Logout §3)
      const atHome = (url: URL) => url.origin + url.pathname === `${baseUrl}/`
      await Promise.all([page.waitForURL(atHome), confirm.click()])
      expect(atHome(new URL(page.url())), where()).toBe(true)
      expect(new URL(page.url()).searchParams.get('state'), where()).toMatch(/^[\w-]{22}$/)
      await expect.poll(() => page.textContent('#status')).toContain('You are not signed in')
      const after = await context.cookies(baseUrl)
      expect(
        after.filter((c) => c.name === 'codeflow' || /^codeflow\.\d+$/.test(c.name)),
        JSON.stringify(after),
      ).toEqual([])

      // the profile is protected again: it leads to the provider's login
      await page.goto(`${baseUrl}/profile`)
      await page.waitForURL(`${issuer}/**`)
      expect(page.url().startsWith(`${issuer}/`), where()).toBe(true)
      // the provider's session ended too: it asks for a login again
      await page.waitForSelector('input[name="login"]')

      expect(errors).toEqual([])
      // only the provider's web fonts are off loopback
      expect(
        blocked.filter((url) => !url.startsWith('https://fonts.')),
        where(),
      ).toEqual([])
    } finally {
      await context.close()
    }
  })
})

/** Driving the dev provider's login and consent pages like a person would. */
import type { Browser, BrowserResponse } from './browser.js'

function formAction(response: BrowserResponse): URL {
  const match = /<form[^>]*action="([^"]+)"/i.exec(response.body)
  if (!match?.[1])
    throw new Error(`no form on ${response.url.href}: ${response.body.slice(0, 300)}`)
  return new URL(match[1].replace(/&amp;/g, '&'), response.url)
}

/**
 * Follows the provider's redirects and pages from `response` (usually our /login's 302), signs
 * in as `login` and consents, and returns the URL of our callback that the provider redirected
 * to, without requesting it, so a test can tamper with it or replay it.
 */
export async function authorize(
  browser: Browser,
  response: BrowserResponse,
  login = 'alice',
  callbackPath = '/callback',
): Promise<URL> {
  let current = response
  for (let step = 0; step < 20; step++) {
    if (current.status >= 300 && current.status < 400 && current.location) {
      if (current.location.pathname === callbackPath) return current.location
      current = await browser.navigate(current.location, { 'sec-fetch-site': 'cross-site' })
      continue
    }
    if (current.status === 200 && /name="login"/.test(current.body)) {
      current = await browser.postForm(formAction(current), {
        prompt: 'login',
        login,
        password: 'any',
      })
      continue
    }
    if (current.status === 200 && /value="consent"/.test(current.body)) {
      current = await browser.postForm(formAction(current), { prompt: 'consent' })
      continue
    }
    throw new Error(
      `unexpected ${current.status} at ${current.url.href}: ${current.body.slice(0, 500)}`,
    )
  }
  throw new Error('too many steps at the provider')
}

/** Starts a login at `appUrl` and returns the response of /login (302 to the provider). */
export function startLogin(
  browser: Browser,
  appUrl: string,
  returnTo?: string,
): Promise<BrowserResponse> {
  const query = returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(returnTo)}`
  return browser.navigate(`${appUrl}/login${query}`)
}

/** A whole login: /login, the provider's pages, and our callback. Returns the callback's response. */
export async function signIn(
  browser: Browser,
  appUrl: string,
  options: { login?: string; returnTo?: string } = {},
): Promise<BrowserResponse> {
  const start = await startLogin(browser, appUrl, options.returnTo)
  if (start.status !== 302) throw new Error(`/login answered ${start.status}: ${start.body}`)
  const callback = await authorize(browser, start, options.login)
  return browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
}

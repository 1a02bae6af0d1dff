/**
 * A real sign-in without a browser: the app's `/login`, the dev provider's login and consent
 * pages answered as a person would, and the app's callback, over plain HTTP with a cookie jar.
 */
import { type SignedIn, signedIn } from './cookies.js'

/** Options of `signIn`. */
export interface SignInOptions {
  /** the login name at the dev provider (any password is accepted); default `alice` */
  readonly user?: string
  /**
   * claims to give the user first, through the dev provider's `setClaims` (pass `provider`):
   * their names must be ones the provider releases (standard claims, or its `claimNames`)
   */
  readonly claims?: Readonly<Record<string, unknown>>
  /** the dev provider (`startDevProvider()`), for `claims` */
  readonly provider?: { setClaims(accountId: string, claims: Record<string, unknown>): void }
  /** where the login returns to, a path; default the app's home page */
  readonly returnTo?: string
  /**
   * more query parameters of `/login` (`{ provider: 'customers' }`, `{ prompt: 'login' }`);
   * codeflow checks them as it checks a browser's
   */
  readonly query?: Readonly<Record<string, string>>
  /** the path of the app's login route; default `/login` */
  readonly loginPath?: string
  /**
   * the path of the app's callback, when the login does not show it (a pushed authorization
   * request); default `/callback`
   */
  readonly callbackPath?: string
  /** the `fetch` to send the requests with; default the global one */
  readonly fetch?: typeof fetch
}

/** The most redirects and pages of one sign-in. */
const MAX_STEPS = 20

/** Cookies by host name (as a browser keeps them: ports do not count). */
class Jar {
  readonly #hosts = new Map<string, Map<string, string>>()

  store(url: URL, setCookie: readonly string[]): void {
    let jar = this.#hosts.get(url.hostname)
    if (!jar) {
      jar = new Map()
      this.#hosts.set(url.hostname, jar)
    }
    for (const header of setCookie) {
      const [pair = ''] = header.split(';')
      const eq = pair.indexOf('=')
      if (eq <= 0) continue
      const name = pair.slice(0, eq).trim()
      if (isDeletion(header)) jar.delete(name)
      else jar.set(name, pair.slice(eq + 1).trim())
    }
  }

  header(url: URL): string {
    const jar = this.#hosts.get(url.hostname)
    return jar ? [...jar].map(([name, value]) => `${name}=${value}`).join('; ') : ''
  }
}

/** Whether a `Set-Cookie` value deletes its cookie (`Max-Age=0`, or an `Expires` in the past). */
export function isDeletion(header: string): boolean {
  if (/;\s*max-age=(0|-\d+)\s*(;|$)/i.test(header)) return true
  const expires = /;\s*expires=([^;]+)/i.exec(header)?.[1]
  return expires !== undefined && Date.parse(expires) <= Date.now()
}

/** A page's text, short, for an error message. */
function text(page: string): string {
  return page
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300)
}

async function pageText(response: Response): Promise<string> {
  return text(await response.text())
}

/** The action of the page's (first) form. */
function formAction(page: string, at: URL): URL | undefined {
  const match = /<form[^>]*action="([^"]+)"/i.exec(page)
  return match?.[1] ? new URL(match[1].replace(/&amp;/g, '&'), at) : undefined
}

/**
 * Signs `user` in to the app at `appBaseUrl` through the dev provider, as a browser would, and
 * returns the cookies of that browser for the app. Rejects with a message that says where the
 * sign-in stopped (a status, a page) when it cannot be completed.
 */
export async function signIn(
  appBaseUrl: string | URL,
  options: SignInOptions = {},
): Promise<SignedIn> {
  const send = options.fetch ?? fetch
  const user = options.user ?? 'alice'
  if (options.claims !== undefined) {
    if (!options.provider)
      throw new TypeError('signIn: "claims" needs "provider" (the dev provider)')
    options.provider.setClaims(user, { ...options.claims })
  }
  const base = new URL(appBaseUrl)
  const app = base.origin
  const jar = new Jar()
  const appCookies: string[] = []
  const login = new URL(`${base.pathname.replace(/\/$/, '')}${options.loginPath ?? '/login'}`, app)
  if (options.returnTo !== undefined) login.searchParams.set('returnTo', options.returnTo)
  for (const [name, value] of Object.entries(options.query ?? {}))
    login.searchParams.set(name, value)

  const request = async (url: URL, form?: Record<string, string>) => {
    const headers = new Headers({ accept: 'text/html' })
    const cookie = jar.header(url)
    if (cookie) headers.set('cookie', cookie)
    if (form) headers.set('content-type', 'application/x-www-form-urlencoded')
    const response = await send(url, {
      method: form ? 'POST' : 'GET',
      headers,
      redirect: 'manual',
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    })
    const setCookie = response.headers.getSetCookie()
    jar.store(url, setCookie)
    if (url.origin === app) appCookies.push(...setCookie)
    return response
  }

  const first = await request(login)
  const start = first.headers.get('location')
  if (first.status < 300 || first.status >= 400 || !start) {
    throw new Error(`signIn: ${login.pathname} answered ${first.status}: ${await pageText(first)}`)
  }
  await first.arrayBuffer()
  // the redirect_uri the provider answers at (a pushed request does not show it: the default)
  const authorization = new URL(start, login)
  const named = authorization.searchParams.get('redirect_uri')
  const callback = new URL(
    named ?? `${base.pathname.replace(/\/$/, '')}${options.callbackPath ?? '/callback'}`,
    app,
  )
  let url = authorization
  let response = await request(url)
  for (let step = 0; step < MAX_STEPS; step++) {
    if (url.origin === callback.origin && url.pathname === callback.pathname) {
      // the app's callback: signed in when it sets a session and sends the browser on
      const sets = response.headers.getSetCookie().some((header) => !isDeletion(header))
      if (response.status >= 300 && response.status < 400 && sets) {
        await response.arrayBuffer()
        return signedIn(base, appCookies, Math.floor(Date.now() / 1000))
      }
      throw new Error(
        `signIn: the callback answered ${response.status}${sets ? '' : ' without a session'}: ${await pageText(response)}`,
      )
    }
    const location = response.headers.get('location')
    if (response.status >= 300 && response.status < 400 && location) {
      await response.arrayBuffer()
      url = new URL(location, url)
      response = await request(url)
      continue
    }
    const page = await response.text()
    const action = formAction(page, url)
    if (response.status === 200 && action && /name="login"/.test(page)) {
      url = action
      response = await request(url, { prompt: 'login', login: user, password: 'any' })
      continue
    }
    if (response.status === 200 && action && /value="consent"/.test(page)) {
      url = action
      response = await request(url, { prompt: 'consent' })
      continue
    }
    throw new Error(
      `signIn: ${url.origin}${url.pathname} answered ${response.status}: ${text(page)}`,
    )
  }
  throw new Error(`signIn: no sign-in after ${MAX_STEPS} steps`)
}

/**
 * What a signed-in browser holds, in the forms tests use: a `Cookie` header (supertest, fetch),
 * the `Set-Cookie` values, and Playwright cookies and `storageState`.
 */

/** A cookie as Playwright's `browserContext.addCookies` and `storageState` take it. */
export interface BrowserCookie {
  readonly name: string
  readonly value: string
  /** the app's host: a host-only cookie (no leading dot), as codeflow sets them */
  readonly domain: string
  readonly path: string
  /** epoch seconds; -1 for a browser-session cookie */
  readonly expires: number
  readonly httpOnly: boolean
  readonly secure: boolean
  readonly sameSite: 'Lax' | 'Strict' | 'None'
}

/** Playwright's `storageState`: the cookies, and no local storage. */
export interface StorageState {
  readonly cookies: BrowserCookie[]
  readonly origins: []
}

/** A signed-in browser's cookies for the app. */
export interface SignedIn {
  /** the `Cookie` header the browser sends the app: `request(app).get('/').set('Cookie', cookie)` */
  readonly cookie: string
  /** the `Set-Cookie` header values the app gave the browser */
  readonly setCookie: readonly string[]
  /** the cookies, for Playwright's `browserContext.addCookies(cookies)` */
  readonly cookies: readonly BrowserCookie[]
  /** Playwright's `storageState` (`browser.newContext({ storageState })`) */
  storageState(): StorageState
}

/** One parsed `Set-Cookie` value. */
interface Parsed {
  readonly name: string
  readonly value: string
  readonly path: string
  readonly maxAge: number | undefined
  readonly httpOnly: boolean
  readonly secure: boolean
  readonly sameSite: BrowserCookie['sameSite']
  /** an `Expires` in the past: a deletion */
  readonly expired: boolean
}

function parseSetCookie(header: string): Parsed | undefined {
  const [pair = '', ...attributes] = header.split(';').map((part) => part.trim())
  const eq = pair.indexOf('=')
  if (eq <= 0) return undefined
  let path = '/'
  let maxAge: number | undefined
  let httpOnly = false
  let secure = false
  let sameSite: BrowserCookie['sameSite'] = 'Lax'
  let expired = false
  for (const attribute of attributes) {
    const [key = '', ...rest] = attribute.split('=')
    const value = rest.join('=')
    switch (key.toLowerCase()) {
      case 'path':
        path = value || '/'
        break
      case 'max-age':
        maxAge = Number(value)
        break
      case 'expires':
        expired = Date.parse(value) <= Date.now()
        break
      case 'httponly':
        httpOnly = true
        break
      case 'secure':
        secure = true
        break
      case 'samesite': {
        const mode = value.toLowerCase()
        sameSite = mode === 'strict' ? 'Strict' : mode === 'none' ? 'None' : 'Lax'
        break
      }
    }
  }
  return {
    name: pair.slice(0, eq),
    value: pair.slice(eq + 1),
    path,
    maxAge,
    httpOnly,
    secure,
    sameSite,
    expired,
  }
}

/**
 * The browser's cookies after the app sent `setCookie` at `now` (epoch seconds) from `origin`:
 * later values replace earlier ones of the same name, and deletions (`Max-Age=0`) remove them.
 */
export function signedIn(
  origin: string | URL,
  setCookie: readonly string[],
  now: number,
): SignedIn {
  const host = new URL(origin).hostname
  const kept = new Map<string, Parsed>()
  for (const header of setCookie) {
    const cookie = parseSetCookie(header)
    if (cookie === undefined) continue
    if ((cookie.maxAge !== undefined && cookie.maxAge <= 0) || cookie.expired)
      kept.delete(cookie.name)
    else kept.set(cookie.name, cookie)
  }
  const cookies: BrowserCookie[] = [...kept.values()].map((cookie) => ({
    name: cookie.name,
    value: cookie.value,
    domain: host,
    path: cookie.path,
    expires: cookie.maxAge === undefined ? -1 : now + cookie.maxAge,
    httpOnly: cookie.httpOnly,
    secure: cookie.secure,
    sameSite: cookie.sameSite,
  }))
  return {
    cookie: cookies.map(({ name, value }) => `${name}=${value}`).join('; '),
    setCookie: [...setCookie],
    cookies,
    storageState: () => ({ cookies: cookies.map((cookie) => ({ ...cookie })), origins: [] }),
  }
}

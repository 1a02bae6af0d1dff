/**
 * A scripted browser for the scenario suite: plain HTTP over node:http (no headers added behind
 * our back), a cookie jar that honours host-only scoping, Path, Max-Age/Expires and ports being
 * ignored (RFC 6265), and redirects followed by hand.
 */
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'

/** One stored cookie. */
export interface StoredCookie {
  name: string
  value: string
  host: string
  path: string
  expires: number | undefined
  secure: boolean
  httpOnly: boolean
  sameSite: string | undefined
  /** the raw Set-Cookie header it came from */
  raw: string
}

/** A response, fully read. */
export interface BrowserResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  setCookies: string[]
  body: string
  url: URL
  /** the Location header resolved against the request URL */
  location: URL | undefined
  header(name: string): string | undefined
  json<T = Record<string, unknown>>(): T
}

/** Options of one request. */
export interface RequestOptions {
  method?: string
  headers?: Record<string, string>
  body?: string
  /** send the jar's cookies (default true) */
  cookies?: boolean
}

function defaultPath(url: URL): string {
  const path = url.pathname
  if (!path.startsWith('/') || path.lastIndexOf('/') === 0) return '/'
  return path.slice(0, path.lastIndexOf('/'))
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true
  if (!requestPath.startsWith(cookiePath)) return false
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/'
}

/** A cookie jar and HTTP client that behaves like a browser for our purposes. */
export class Browser {
  readonly cookies: StoredCookie[] = []
  /** headers sent with every request (e.g. a browser's Accept) */
  defaultHeaders: Record<string, string> = {}
  /** the CA certificates (PEM) an https server's certificate must chain to (Node's by default) */
  readonly ca: string | undefined

  constructor(options: { ca?: string } = {}) {
    this.ca = options.ca
  }

  /** Stores the cookies of a response, as a browser would. */
  store(url: URL, setCookies: readonly string[]): void {
    for (const raw of setCookies) {
      const [pair = '', ...attributes] = raw.split(';')
      const eq = pair.indexOf('=')
      if (eq <= 0) continue
      const cookie: StoredCookie = {
        name: pair.slice(0, eq).trim(),
        value: pair.slice(eq + 1).trim(),
        host: url.hostname,
        path: defaultPath(url),
        expires: undefined,
        secure: false,
        httpOnly: false,
        sameSite: undefined,
        raw,
      }
      for (const attribute of attributes) {
        const [key = '', ...rest] = attribute.split('=')
        const value = rest.join('=').trim()
        switch (key.trim().toLowerCase()) {
          case 'path':
            if (value.startsWith('/')) cookie.path = value
            break
          case 'max-age':
            // the jar keeps real time, never a test clock (test/support/clock.ts): a cookie
            // whose Max-Age has passed by an app's moved-on clock is still sent, as a browser
            // with its own clock, or an attacker with a copy, would; the scenarios then prove
            // that the server refuses it, which is the stronger test
            cookie.expires = Date.now() + Number(value) * 1000
            break
          case 'expires':
            if (cookie.expires === undefined) cookie.expires = Date.parse(value)
            break
          case 'secure':
            cookie.secure = true
            break
          case 'httponly':
            cookie.httpOnly = true
            break
          case 'samesite':
            cookie.sameSite = value.toLowerCase()
            break
        }
      }
      const index = this.cookies.findIndex(
        (c) => c.name === cookie.name && c.host === cookie.host && c.path === cookie.path,
      )
      if (index !== -1) this.cookies.splice(index, 1)
      if (cookie.expires === undefined || cookie.expires > Date.now()) this.cookies.push(cookie)
    }
  }

  /** The cookies a request to `url` carries, most specific path first. */
  cookiesFor(url: URL): StoredCookie[] {
    const now = Date.now()
    return this.cookies
      .filter((c) => c.expires === undefined || c.expires > now)
      .filter((c) => c.host === url.hostname && pathMatches(url.pathname, c.path))
      .sort((a, b) => b.path.length - a.path.length)
  }

  /** A cookie by name for `url`'s host, if stored. */
  cookie(url: string | URL, name: string): StoredCookie | undefined {
    const host = new URL(url).hostname
    return this.cookies.find((c) => c.host === host && c.name === name)
  }

  /** Drops every cookie. */
  clear(): void {
    this.cookies.length = 0
  }

  /** Sends one request (no redirect following) and stores its cookies. */
  request(target: string | URL, options: RequestOptions = {}): Promise<BrowserResponse> {
    const url = new URL(target)
    const headers: Record<string, string> = { ...this.defaultHeaders, ...options.headers }
    if (options.cookies !== false) {
      const cookies = this.cookiesFor(url)
      if (cookies.length > 0) headers.cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ')
    }
    if (options.body !== undefined)
      headers['content-length'] = String(Buffer.byteLength(options.body))
    const https = url.protocol === 'https:'
    const send = https ? httpsRequest : httpRequest
    return new Promise((resolve, reject) => {
      const req = send(
        {
          ...(https
            ? { ca: this.ca, ...(url.hostname === 'localhost' ? { servername: 'localhost' } : {}) }
            : {}),
          // "localhost" is served on 127.0.0.1 in the tests: connect there, keep the Host header
          host: url.hostname === 'localhost' ? '127.0.0.1' : url.hostname,
          port: url.port,
          path: url.pathname + url.search,
          method: options.method ?? 'GET',
          headers: { host: url.host, ...headers },
          agent: false,
        },
        (res) => {
          const parts: Buffer[] = []
          res.on('data', (chunk: Buffer) => parts.push(chunk))
          res.on('error', reject)
          res.on('end', () => {
            const raw = res.headers['set-cookie'] ?? []
            const setCookies = Array.isArray(raw) ? raw : [raw]
            this.store(url, setCookies)
            const body = Buffer.concat(parts).toString('utf8')
            const location = res.headers.location
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              setCookies,
              body,
              url,
              location: location === undefined ? undefined : new URL(location, url),
              header: (name) => {
                const value = res.headers[name.toLowerCase()]
                return Array.isArray(value) ? value.join(', ') : value
              },
              json: () => JSON.parse(body),
            })
          })
        },
      )
      req.on('error', reject)
      req.setTimeout(20_000, () => req.destroy(new Error(`request to ${url.href} timed out`)))
      req.end(options.body)
    })
  }

  /** GET with browser navigation headers. */
  navigate(target: string | URL, headers: Record<string, string> = {}): Promise<BrowserResponse> {
    return this.request(target, {
      headers: {
        accept: 'text/html,application/xhtml+xml',
        'sec-fetch-mode': 'navigate',
        'sec-fetch-site': 'none',
        ...headers,
      },
    })
  }

  /** POSTs a urlencoded form. */
  postForm(
    target: string | URL,
    form: Record<string, string>,
    headers: Record<string, string> = {},
  ): Promise<BrowserResponse> {
    return this.request(target, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    })
  }
}

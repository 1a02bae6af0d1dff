/**
 * The cookie codec: the Cookie request header parsed, Set-Cookie serialized with codeflow's
 * attributes, and a long value split into chunks and joined again. What the cookies are called,
 * and which are written when, is the jar's (`jar.ts`).
 */

/** A cookie to set, with its serialized `Set-Cookie` header value. */
export interface SetCookie {
  /** the cookie's name */
  readonly name: string
  /** the cookie's value; empty when the cookie is being deleted */
  readonly value: string
  /** its attributes */
  readonly options: CookieAttributes
  /** the complete `Set-Cookie` header value, ready to append */
  readonly header: string
}

/** The attributes codeflow sets on its cookies. */
export interface CookieAttributes {
  readonly path: string
  readonly httpOnly: true
  readonly secure: boolean
  readonly sameSite: 'lax'
  /** seconds; 0 deletes the cookie; undefined makes a browser-session cookie */
  readonly maxAge: number | undefined
}

/** The most bytes one `Set-Cookie` header may take (RFC 6265 §6.1 minimum that browsers honour). */
export const MAX_SET_COOKIE_BYTES = 4096

/** The most cookies parsed from one request; the rest are ignored (bounds attacker input). */
const MAX_PARSED_COOKIES = 200
/** The most bytes of Cookie header parsed. */
const MAX_COOKIE_HEADER = 64 * 1024

/**
 * Parses a `Cookie` request header into a map. Lenient like browsers: malformed pairs are skipped;
 * the first occurrence of a name wins (the most specific path, RFC 6265 §5.4).
 */
export function parseCookieHeader(header: string | null | undefined): Map<string, string> {
  const cookies = new Map<string, string>()
  if (!header) return cookies
  const text = header.length > MAX_COOKIE_HEADER ? header.slice(0, MAX_COOKIE_HEADER) : header
  let start = 0
  while (start < text.length && cookies.size < MAX_PARSED_COOKIES) {
    let end = text.indexOf(';', start)
    if (end === -1) end = text.length
    const eq = text.indexOf('=', start)
    if (eq !== -1 && eq < end) {
      const name = text.slice(start, eq).trim()
      let value = text.slice(eq + 1, end).trim()
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"'))
        value = value.slice(1, -1)
      if (name && !cookies.has(name)) cookies.set(name, value)
    }
    start = end + 1
  }
  return cookies
}

/** Builds a cookie with codeflow's attributes (HttpOnly, SameSite=Lax, Path=/). */
export function makeCookie(
  name: string,
  value: string,
  secure: boolean,
  maxAge: number | undefined,
): SetCookie {
  const options: CookieAttributes = { path: '/', httpOnly: true, secure, sameSite: 'lax', maxAge }
  return { name, value, options, header: serializeCookie(name, value, options) }
}

/** A cookie that deletes `name` in the browser. */
export function deletionCookie(name: string, secure: boolean): SetCookie {
  return makeCookie(name, '', secure, 0)
}

function serializeCookie(name: string, value: string, options: CookieAttributes): string {
  let header = `${name}=${value}; Path=${options.path}`
  if (options.maxAge !== undefined) {
    header += `; Max-Age=${options.maxAge}`
    if (options.maxAge === 0) header += '; Expires=Thu, 01 Jan 1970 00:00:00 GMT'
  }
  header += '; HttpOnly'
  if (options.secure) header += '; Secure'
  return `${header}; SameSite=Lax`
}

/** The name of chunk `index` of a chunked cookie. */
export function chunkName(name: string, index: number): string {
  return `${name}.${index}`
}

/**
 * Splits `value` across as few cookies as fit in {@link MAX_SET_COOKIE_BYTES} each, counting the
 * name and every attribute. Returns `undefined` when more than `maxChunks` would be needed.
 */
export function chunkValue(
  name: string,
  value: string,
  secure: boolean,
  maxAge: number | undefined,
  maxChunks: number,
): SetCookie[] | undefined {
  const whole = makeCookie(name, value, secure, maxAge)
  if (whole.header.length <= MAX_SET_COOKIE_BYTES) return [whole]
  // the overhead of a chunk: everything in its header but the value (the widest index is used)
  const overhead = makeCookie(chunkName(name, maxChunks - 1), '', secure, maxAge).header.length
  const room = MAX_SET_COOKIE_BYTES - overhead
  const count = Math.ceil(value.length / room)
  if (count > maxChunks) return undefined
  const chunks: SetCookie[] = []
  for (let i = 0; i < count; i++) {
    chunks.push(
      makeCookie(chunkName(name, i), value.slice(i * room, (i + 1) * room), secure, maxAge),
    )
  }
  return chunks
}

/**
 * Reads a possibly chunked cookie: `name` itself, or `name.0`, `name.1`, … joined. More than
 * `maxChunks` chunks, or a gap, reads as absent.
 */
export function readChunked(
  cookies: ReadonlyMap<string, string>,
  name: string,
  maxChunks: number,
): string | undefined {
  const whole = cookies.get(name)
  if (whole !== undefined) return whole || undefined
  let value = ''
  let count = 0
  for (let chunk = cookies.get(chunkName(name, 0)); chunk !== undefined; ) {
    if (count >= maxChunks) return undefined
    value += chunk
    chunk = cookies.get(chunkName(name, ++count))
  }
  // a chunk past the first missing index: the chunks do not belong together
  if (chunkCookieNames(cookies, name).length !== count) return undefined
  return value || undefined
}

/** Every cookie of the request that belongs to the chunked cookie `name` (itself and its chunks). */
export function chunkCookieNames(cookies: ReadonlyMap<string, string>, name: string): string[] {
  const names: string[] = []
  const prefix = `${name}.`
  for (const key of cookies.keys()) {
    if (key === name || (key.startsWith(prefix) && /^\d{1,2}$/.test(key.slice(prefix.length)))) {
      names.push(key)
    }
  }
  return names
}

/**
 * The `Vary` value of a response that depends on the request's cookies, given the one it has: a
 * cache must not answer one browser's request with another's (a session's) response.
 */
export function varyWithCookie(vary: string | null | undefined): string {
  if (!vary) return 'Cookie'
  if (vary.split(',').some((name) => ['cookie', '*'].includes(name.trim().toLowerCase()))) {
    return vary
  }
  return `${vary}, Cookie`
}

/**
 * Puts `cookies` on a response: one Set-Cookie each through `append`, and `Cache-Control:
 * no-store` through `set`, since a response that sets a session or transaction cookie must never
 * be cached (a cached Set-Cookie leaks sessions through CDNs: nextjs-auth0 CVE-2025-48947). Every
 * adapter's response goes through here.
 */
export function writeCookieHeaders(
  cookies: readonly SetCookie[],
  append: (name: 'Set-Cookie', value: string) => void,
  set: (name: 'Cache-Control', value: string) => void,
): void {
  if (cookies.length === 0) return
  for (const cookie of cookies) append('Set-Cookie', cookie.header)
  set('Cache-Control', 'no-store')
}

/**
 * Same-origin redirect targets. Every fix of this bug in our peers was bypassed once, so the rule
 * is strict: a relative path (or an absolute URL on our own origin), no backslash, no control or
 * whitespace character, not even after one more percent-decoding, and the result is re-emitted as
 * an absolute URL on the configured origin.
 */

/** The longest returnTo accepted. */
const MAX_RETURN_TO = 2048

/** Unicode spaces and line separators that browsers strip or fold in URLs. */
const UNICODE_SPACES = new Set([0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff])

/**
 * Whether `text` holds a character that has no business in a redirect path: a backslash (read as
 * "/" by browsers), a C0 or C1 control (CR/LF included), DEL, or, when `strict`, any space.
 * The value as received is checked strictly; once more decoded, a space is fine (`?q=a%20b`).
 */
function hasUnsafeCharacter(text: string, strict: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code === 0x5c || code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true
    if (strict && (code === 0x20 || code === 0xa0 || (code >= 0x2000 && code <= 0x200f)))
      return true
    if (UNICODE_SPACES.has(code)) return true
  }
  return false
}

function decodeOnce(value: string): string | undefined {
  try {
    return decodeURIComponent(value)
  } catch {
    return undefined
  }
}

/**
 * Returns the absolute URL to redirect to for `value`, or `undefined` if it is not a safe
 * same-origin target. `base` is the app's configured base URL.
 */
export function safeReturnTo(value: unknown, base: URL): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_RETURN_TO) {
    return undefined
  }
  const decoded = decodeOnce(value)
  if (decoded === undefined) return undefined
  if (hasUnsafeCharacter(value, true) || hasUnsafeCharacter(decoded, false)) return undefined
  // a scheme-relative path that browsers read as an authority: //host, and /%2F/host encoded
  if (value.startsWith('//') || decoded.startsWith('//')) return undefined
  let target: URL
  if (value.startsWith('/')) {
    try {
      target = new URL(value, base.origin)
    } catch {
      return undefined
    }
  } else {
    // an absolute URL is accepted only on our own origin; anything else (`evil.com`, `javascript:`)
    // is refused rather than resolved against the base
    if (!/^https?:\/\//i.test(value)) return undefined
    try {
      target = new URL(value)
    } catch {
      return undefined
    }
    if (target.username || target.password) return undefined
  }
  if (target.origin !== base.origin) return undefined
  // dot segments (`/..//host`, `/%2e%2e//host`) can normalise the path to `//host`: refused, since
  // a framework that makes same-origin Locations relative (Next.js does) would emit `//host`
  if (target.pathname.startsWith('//')) return undefined
  return `${base.origin}${target.pathname}${target.search}${target.hash}`
}

/** The path and query of the current request, as the `returnTo` of a login it triggers. */
export function currentPath(url: URL): string {
  return url.pathname + url.search
}

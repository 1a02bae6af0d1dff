import type { HttpContext } from './context.js'
import type { SetCookie } from './cookies.js'

/**
 * The `Cookie` header the rest of the app should see once this request's cookie writes are
 * applied. A proxy in front of the app (Next.js `proxy.ts`) that refreshes a session and then lets
 * the request through passes this header on, so the page behind it reads the new session rather
 * than the one the browser sent. Cookies the core did not write pass through exactly as received;
 * a deleted cookie is left out.
 */
export function forwardedCookieHeader(
  ctx: HttpContext & { readonly cookies: readonly SetCookie[] },
): string {
  const written = new Map<string, SetCookie>()
  for (const cookie of ctx.cookies) written.set(cookie.name, cookie)
  const pairs: string[] = []
  for (const part of (ctx.headers.get('cookie') ?? '').split(';')) {
    const pair = part.trim()
    if (!pair) continue
    const eq = pair.indexOf('=')
    if (!written.has((eq === -1 ? pair : pair.slice(0, eq)).trim())) pairs.push(pair)
  }
  for (const cookie of written.values()) {
    if (cookie.options.maxAge !== 0) pairs.push(`${cookie.name}=${cookie.value}`)
  }
  return pairs.join('; ')
}

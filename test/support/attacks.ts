/**
 * What every attack scenario checks about a refused request: the status (4xx for the client's
 * fault, 502/504 for the provider's, never 500), no session cookie, `Cache-Control: no-store`,
 * nothing reflected unescaped and no stack trace.
 */
import { expect } from 'vitest'
import type { Browser, BrowserResponse } from './browser.js'

/** A payload whose unescaped appearance in a body means the app reflected markup. */
export const MARKUP = '<script>alert(1)</script>'

/** Whether a Set-Cookie header sets (not deletes) a session cookie or one of its chunks. */
export function setsSession(setCookie: string): boolean {
  return /^codeflow(\.\d+)?=[^;]/.test(setCookie) && !/max-age=0/i.test(setCookie)
}

/** A refused request: `status`, no session, nothing cached, nothing reflected. */
export function expectRefused(response: BrowserResponse, status: number | readonly number[]): void {
  const allowed = typeof status === 'number' ? [status] : status
  expect(allowed, `status ${response.status}: ${response.body.slice(0, 200)}`).toContain(
    response.status,
  )
  expect(response.status).not.toBe(500)
  expect(response.header('cache-control')).toBe('no-store')
  expect(response.setCookies.filter(setsSession)).toEqual([])
  expect(response.body).not.toContain('<script>')
  expect(response.body).not.toMatch(/at .*\.(js|ts):\d+/)
}

/** The browser has no session: /api/me answers 401. */
export async function expectAnonymous(browser: Browser, baseUrl: string): Promise<void> {
  expect((await browser.request(`${baseUrl}/api/me`)).status).toBe(401)
}

/**
 * A redirect that stays on `baseUrl`'s origin, checked on the raw Location header (what a browser
 * would parse), not on a URL resolved by the test: absolute on `baseUrl`, or a path that cannot be
 * read as an authority (Next.js makes same-origin Locations relative).
 */
export function expectSameOrigin(response: BrowserResponse, baseUrl: string, label: string): void {
  const location = response.header('location') ?? ''
  const absolute = location.startsWith(`${baseUrl}/`)
  const path = /^\/(?![/\\])/.test(location)
  expect(absolute || path, `${label} -> ${location}`).toBe(true)
  expect(location, label).not.toMatch(/[\r\n\t\\]/)
  expect(new URL(location, baseUrl).origin, label).toBe(baseUrl)
}

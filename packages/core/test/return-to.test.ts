import { describe, expect, it } from 'vitest'
import { safeReturnTo } from '../src/index.js'

const BASE = new URL('http://localhost:3000')
const ORIGIN = 'http://localhost:3000'

/** Same-origin targets, and the absolute URL each must come back as. */
const ACCEPTED: ReadonlyArray<readonly [string, string]> = [
  ['/', `${ORIGIN}/`],
  ['/dashboard', `${ORIGIN}/dashboard`],
  ['/search?q=a&page=2', `${ORIGIN}/search?q=a&page=2`],
  ['/docs#install', `${ORIGIN}/docs#install`],
  ['/a%20b?q=a%20b', `${ORIGIN}/a%20b?q=a%20b`],
  ['/caf%C3%A9', `${ORIGIN}/caf%C3%A9`],
  ['/?next=//evil.com', `${ORIGIN}/?next=//evil.com`],
  ['/.evil.com', `${ORIGIN}/.evil.com`],
  ['http://localhost:3000/settings?tab=1', `${ORIGIN}/settings?tab=1`],
  ['HTTP://LOCALHOST:3000/upper', `${ORIGIN}/upper`],
  ['http://localhost:3000', `${ORIGIN}/`],
  // decoded once this is still "/%2F%2Fevil.com", a path; it stays a path on our origin
  ['/%252F%252Fevil.com', `${ORIGIN}/%252F%252Fevil.com`],
  // fullwidth solidus is not a separator in a path
  ['/\uff0f\uff0fevil.com', `${ORIGIN}/%EF%BC%8F%EF%BC%8Fevil.com`],
  [`/${'a'.repeat(2047)}`, `${ORIGIN}/${'a'.repeat(2047)}`],
]

/** Targets that must be refused, by what they try. */
const REJECTED: ReadonlyArray<readonly [string, string]> = [
  ['scheme-relative', '//evil.com'],
  ['scheme-relative, three slashes', '///evil.com'],
  ['scheme-relative with path', '//evil.com/path'],
  ['slash backslash', '/\\evil.com'],
  ['backslash backslash', '\\\\evil.com'],
  ['backslash slash', '\\/evil.com'],
  ['encoded backslash', '/%5Cevil.com'],
  ['encoded backslash, lower case', '/%5cevil.com'],
  ['encoded double slash', '%2F%2Fevil.com'],
  ['slash, encoded slash', '/%2Fevil.com'],
  ['slash, encoded double slash', '/%2F%2Fevil.com'],
  ['double-encoded double slash', '%252F%252Fevil.com'],
  ['raw tab', '/\t/evil.com'],
  ['raw newline', '/\n/evil.com'],
  // paths that normalise to "//host": Next.js makes a same-origin Location relative, and a
  // relative "//evil.com" is off-origin (issue 8, found by test/attacks-redirects.test.ts)
  ['dot segments to a double slash', '/..//evil.com'],
  ['encoded dot segments to a double slash', '/%2e%2e//evil.com'],
  ['single dot to a double slash', '/.//evil.com'],
  ['absolute on our origin with a double-slash path', 'http://localhost:3000//evil.com'],
  ['raw carriage return', '/\r/evil.com'],
  ['raw NUL', '/\0/evil.com'],
  ['raw DEL', '/\x7f/evil.com'],
  ['raw C1 control', '/\x85/evil.com'],
  ['leading tab', '\t//evil.com'],
  ['encoded tab', '/%09/evil.com'],
  ['encoded newline', '/%0a/evil.com'],
  ['encoded CRLF header injection', '/%0d%0aSet-Cookie:%20x=1'],
  ['encoded NUL', '/%00/evil.com'],
  ['raw space', '/ /evil.com'],
  ['leading space', ' /dashboard'],
  ['no-break space', '/\u00a0/evil.com'],
  ['line separator', '/\u2028/evil.com'],
  ['paragraph separator', '/\u2029/evil.com'],
  ['ideographic space', '/\u3000/evil.com'],
  ['byte order mark', '\ufeff//evil.com'],
  ['zero-width space', '/\u200b/evil.com'],
  ['encoded line separator', '/%E2%80%A8/evil.com'],
  ['encoded ideographic space', '/%E3%80%80/evil.com'],
  ['fullwidth solidus, no leading slash', '\uff0f\uff0fevil.com'],
  ['javascript:', 'javascript:alert(1)'],
  ['mixed-case javascript:', 'JaVaScRiPt:alert(1)'],
  ['javascript: with a tab', 'java\tscript:alert(1)'],
  ['data:', 'data:text/html,<script>alert(1)</script>'],
  ['vbscript:', 'vbscript:msgbox(1)'],
  ['another origin', 'http://evil.com'],
  ['another origin with path', 'http://evil.com/localhost:3000'],
  ['userinfo trick', 'http://localhost:3000@evil.com'],
  ['userinfo with our origin as name', 'http://localhost:3000:pass@evil.com/'],
  ['userinfo on our host', 'http://user@localhost:3000/'],
  ['fragment trick', 'http://evil.com#@localhost:3000'],
  ['query trick', 'http://evil.com?@localhost:3000'],
  ['subdomain lookalike', 'http://localhost:3000.evil.com'],
  ['other scheme, same host', 'https://localhost:3000'],
  ['other port', 'http://localhost:3001/'],
  ['default port', 'http://localhost/'],
  ['other loopback name', 'http://127.0.0.1:3000/'],
  ['scheme without slashes', 'http:evil.com'],
  ['scheme with one slash', 'http:/evil.com'],
  ['scheme with backslashes', 'http:\\\\evil.com'],
  ['ftp', 'ftp://localhost:3000/'],
  ['bare host', 'evil.com'],
  ['dot host', '.evil.com'],
  ['relative path', 'dashboard'],
  ['dot relative', './dashboard'],
  ['question mark only', '?x=1'],
  ['fragment only', '#x'],
  ['invalid percent-encoding', '/%E0%A4%A'],
  ['lone percent', '/%'],
  ['too long', `/${'a'.repeat(2048)}`],
  ['empty', ''],
]

const NOT_STRINGS: readonly unknown[] = [
  undefined,
  null,
  42,
  true,
  ['/dashboard'],
  { toString: () => '/dashboard' },
  new URL('http://localhost:3000/dashboard'),
]

describe('safeReturnTo', () => {
  it('has a large payload corpus', () => {
    expect(ACCEPTED.length + REJECTED.length + NOT_STRINGS.length).toBeGreaterThanOrEqual(50)
  })

  it.each(ACCEPTED)('accepts %j as %s', (value, expected) => {
    expect(safeReturnTo(value, BASE)).toBe(expected)
  })

  it.each(REJECTED)('refuses %s: %j', (_label, value) => {
    expect(safeReturnTo(value, BASE)).toBeUndefined()
  })

  it.each(NOT_STRINGS.map((value) => [value]))('refuses the non-string %o', (value) => {
    expect(safeReturnTo(value, BASE)).toBeUndefined()
  })

  it('never returns a URL off the base origin, even when re-parsed', () => {
    const payloads = [...ACCEPTED.map(([value]) => value), ...REJECTED.map(([, value]) => value)]
    let accepted = 0
    for (const payload of payloads) {
      const result = safeReturnTo(payload, BASE)
      if (result === undefined) continue
      accepted++
      expect(result.startsWith(`${ORIGIN}/`)).toBe(true)
      const reparsed = new URL(result)
      expect(reparsed.origin).toBe(ORIGIN)
      expect(reparsed.username + reparsed.password).toBe('')
      // what a browser would do with the Location header: strip and resolve, then compare
      expect(new URL(result, 'https://other.example').origin).toBe(ORIGIN)
    }
    expect(accepted).toBe(ACCEPTED.length)
  })

  it('builds the result on the configured origin, not on the value', () => {
    const base = new URL('https://app.example.com/portal/')
    expect(safeReturnTo('/portal/page', base)).toBe('https://app.example.com/portal/page')
    expect(safeReturnTo('https://app.example.com/x', base)).toBe('https://app.example.com/x')
    expect(safeReturnTo('http://app.example.com/x', base)).toBeUndefined()
  })
})

import { describe, expect, it } from 'vitest'
import { errorResponse, isNavigation } from '../src/adapter.js'
import { escapeHtml } from '../src/http/responses.js'
import {
  AuthError,
  CallbackError,
  ConfigurationError,
  DiscoveryError,
  ForbiddenError,
  ProviderError,
  SessionTooLargeError,
  StateMismatchError,
  TokenExchangeError,
  UnauthenticatedError,
} from '../src/index.js'
import { context } from './support.js'

const navigation = () => context('/callback', { headers: { 'sec-fetch-mode': 'navigate' } })
const htmlAccept = () => context('/callback', { headers: { accept: 'text/html,*/*;q=0.8' } })
const apiCall = () =>
  context('/api/me', { headers: { 'sec-fetch-mode': 'cors', accept: 'application/json' } })

function body(response: { body?: string }): string {
  expect(response.body).toBeTypeOf('string')
  return response.body ?? ''
}

function jsonBody(response: { body?: string }): { error: string; error_description: string } {
  return JSON.parse(body(response))
}

describe('isNavigation', () => {
  it.each([
    ['Sec-Fetch-Mode navigate', 'GET', { 'sec-fetch-mode': 'navigate' }, true],
    ['Accept text/html without Fetch Metadata', 'GET', { accept: 'text/html' }, true],
    ['HEAD with Accept text/html', 'HEAD', { accept: 'text/html' }, true],
    [
      'Fetch Metadata wins over Accept',
      'GET',
      { 'sec-fetch-mode': 'cors', accept: 'text/html' },
      false,
    ],
    ['no headers (curl)', 'GET', {}, false],
    ['Accept */*', 'GET', { accept: '*/*' }, false],
    ['Accept application/json', 'GET', { accept: 'application/json' }, false],
    ['a POST', 'POST', { 'sec-fetch-mode': 'navigate', accept: 'text/html' }, false],
  ])('%s → %s', (_label, method, headers, expected) => {
    expect(isNavigation(context('/', { method, headers }))).toBe(expected)
  })
})

describe('errorResponse', () => {
  it('renders an HTML page for a navigation, with the status and no-store', () => {
    for (const ctx of [navigation(), htmlAccept()]) {
      const response = errorResponse(ctx, new StateMismatchError())
      expect(response.status).toBe(400)
      expect(response.headers['Content-Type']).toBe('text/html; charset=utf-8')
      expect(response.headers['Cache-Control']).toBe('no-store')
      expect(response.headers['X-Content-Type-Options']).toBe('nosniff')
      expect(response.headers['Content-Security-Policy']).toContain("default-src 'none'")
      const html = body(response)
      expect(html.startsWith('<!doctype html>')).toBe(true)
      expect(html).toContain('&#34;state&#34; does not match')
      expect(html).toContain('<a href="/">')
    }
  })

  it('renders JSON for an API call, with the status, code and no-store', () => {
    const response = errorResponse(apiCall(), new StateMismatchError())
    expect(response.status).toBe(400)
    expect(response.headers['Content-Type']).toBe('application/json; charset=utf-8')
    expect(response.headers['X-Content-Type-Options']).toBe('nosniff')
    expect(response.headers['Cache-Control']).toBe('no-store')
    expect(jsonBody(response)).toEqual({
      error: 'state_mismatch',
      error_description: '"state" does not match any login in progress in this browser',
    })
  })

  it('obeys an explicit format', () => {
    expect(
      errorResponse(navigation(), new ForbiddenError('no'), { format: 'json' }).headers[
        'Content-Type'
      ],
    ).toContain('application/json')
    expect(
      errorResponse(apiCall(), new ForbiddenError('no'), { format: 'html' }).headers[
        'Content-Type'
      ],
    ).toContain('text/html')
  })

  it.each([
    [new ForbiddenError('x'), 403],
    [new ProviderError('access_denied', undefined), 403],
    [new ProviderError('invalid_scope', undefined), 400],
    [new TokenExchangeError('x'), 502],
    [new TokenExchangeError('x', 504), 504],
    [new SessionTooLargeError(20_000, 3), 502],
    [new AuthError('x', 'teapot', 418), 418],
  ])('answers %o with status %i', (error, status) => {
    expect(errorResponse(apiCall(), error).status).toBe(status)
    expect(errorResponse(navigation(), error).status).toBe(status)
  })

  it('carries Retry-After from a DiscoveryError, and hides its message', () => {
    const error = new DiscoveryError('discovery of https://internal.op:8443 failed: ECONNREFUSED', {
      retryAfter: 30,
    })
    for (const ctx of [apiCall(), navigation()]) {
      const response = errorResponse(ctx, error)
      expect(response.status).toBe(503)
      expect(response.headers['Retry-After']).toBe('30')
      expect(response.headers['Cache-Control']).toBe('no-store')
      expect(body(response)).not.toContain('internal.op')
      expect(body(response)).not.toContain('ECONNREFUSED')
    }
    expect(errorResponse(apiCall(), new DiscoveryError('x')).headers['Retry-After']).toBe('5')
  })

  it('sets WWW-Authenticate with the login URL for UnauthenticatedError', () => {
    const error = new UnauthenticatedError('http://localhost:3000/login?returnTo=%2Fa%3Fb%3D1')
    const json = errorResponse(apiCall(), error)
    expect(json.status).toBe(401)
    expect(json.headers['WWW-Authenticate']).toBe(
      'Cookie realm="codeflow", login_url="http://localhost:3000/login?returnTo=%2Fa%3Fb%3D1"',
    )
    expect(jsonBody(json).error).toBe('unauthenticated')
    const html = errorResponse(navigation(), error)
    expect(html.headers['WWW-Authenticate']).toBeDefined()
    expect(body(html)).toContain(
      '<a href="http://localhost:3000/login?returnTo=%2Fa%3Fb%3D1">Sign in</a>',
    )
  })

  it('escapes the message: <script> never appears raw in HTML', () => {
    const payload = '<script>alert(1)</script>"\'><img src=x onerror=alert(1)>'
    for (const error of [
      new CallbackError(payload),
      new ProviderError('invalid_request', payload),
      new ProviderError(payload, undefined),
    ]) {
      const html = body(errorResponse(navigation(), error))
      expect(html).not.toContain('<script>alert')
      expect(html).not.toContain('<img')
      expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;')
    }
  })

  it('escapes the home link', () => {
    const html = body(
      errorResponse(navigation(), new CallbackError('x'), { home: '/"><script>x</script>' }),
    )
    expect(html).toContain('<a href="/&#34;&#62;&#60;script&#62;x&#60;/script&#62;">')
    expect(html).not.toContain('<script>x')
  })

  it('never exposes the message of a 5xx error', () => {
    const secret = 'token endpoint said: client_secret=hunter2 rejected'
    for (const error of [
      new TokenExchangeError(secret),
      new TokenExchangeError(secret, 504),
      new AuthError(secret, 'internal', 500),
      new ConfigurationError('secret', secret),
    ]) {
      expect(error.expose).toBe(false)
      const json = jsonBody(errorResponse(apiCall(), error))
      expect(json.error_description).toBe('something went wrong on our side')
      expect(json.error).toBe(error.code)
      expect(body(errorResponse(navigation(), error))).not.toContain('hunter2')
    }
  })

  it.each([
    ['an Error', new Error('database password is hunter2')],
    ['a TypeError', new TypeError('cannot read hunter2 of undefined')],
    ['a string', 'hunter2'],
    ['undefined', undefined],
    ['an object claiming a status', { status: 200, message: 'hunter2', expose: true }],
  ])('turns %s into a generic 500', (_label, error) => {
    const json = errorResponse(apiCall(), error)
    expect(json.status).toBe(500)
    expect(jsonBody(json)).toEqual({
      error: 'internal_error',
      error_description: 'something went wrong on our side',
    })
    const html = errorResponse(navigation(), error)
    expect(html.status).toBe(500)
    expect(body(html)).not.toContain('hunter2')
    expect(body(html)).toContain('Sign-in failed')
  })

  it('keeps an error header but never lets it override Cache-Control or Content-Type', () => {
    const error = new AuthError('x', 'method_not_allowed', 405, {
      headers: {
        Allow: 'GET',
        'Cache-Control': 'public, max-age=3600',
        'Content-Type': 'text/plain',
      },
    })
    for (const ctx of [apiCall(), navigation()]) {
      const response = errorResponse(ctx, error)
      expect(response.headers.Allow).toBe('GET')
      expect(response.headers['Cache-Control']).toBe('no-store')
      expect(response.headers['Content-Type']).not.toBe('text/plain')
    }
  })
})

describe('escapeHtml', () => {
  it('escapes every character that matters in content and attributes', () => {
    expect(escapeHtml(`&<>"'\``)).toBe('&#38;&#60;&#62;&#34;&#39;&#96;')
  })

  it('leaves other text alone, unicode included', () => {
    expect(escapeHtml('Sign in – café 🙂 /path?a=1')).toBe('Sign in – café 🙂 /path?a=1')
  })

  it('escapes an already escaped entity again (no double-decoding)', () => {
    expect(escapeHtml('&lt;script&gt;')).toBe('&#38;lt;script&#38;gt;')
  })
})

/**
 * What route handlers and guards return instead of touching a framework object: a status,
 * headers and an optional body. Adapters copy it onto their response as it is.
 */

import { AuthError, ProviderError, StepUpError, UnauthenticatedError } from '../errors.js'
import type { HttpContext } from './context.js'

/** A response for the adapter to send. Cookies were already set through the context. */
export interface AuthResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  /** the body, already serialized (HTML or JSON), or undefined for none */
  readonly body?: string
}

const NO_STORE = 'no-store'

/** A redirect (302 by default; 303 after a POST) that must never be cached. */
export function redirect(location: string, status: 302 | 303 = 302): AuthResponse {
  return { status, headers: { Location: location, 'Cache-Control': NO_STORE } }
}

/** A JSON response that must never be cached. */
export function json(
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): AuthResponse {
  return {
    status,
    headers: {
      ...headers,
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': NO_STORE,
      'X-Content-Type-Options': 'nosniff',
    },
    body: JSON.stringify(body),
  }
}

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** A small self-contained HTML page; `bodyHtml` must already be escaped. */
export function htmlPage(
  status: number,
  title: string,
  bodyHtml: string,
  headers: Readonly<Record<string, string>> = {},
): AuthResponse {
  const page =
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${escapeHtml(title)}</title>` +
    '<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}</style>' +
    `</head><body><h1>${escapeHtml(title)}</h1>${bodyHtml}</body></html>`
  return {
    status,
    headers: {
      ...headers,
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': NO_STORE,
      'Content-Security-Policy':
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
      'X-Content-Type-Options': 'nosniff',
    },
    body: page,
  }
}

/** Whether the request is a browser page navigation (rather than an API call). */
export function isNavigation(ctx: HttpContext): boolean {
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return false
  const mode = ctx.headers.get('sec-fetch-mode')
  if (mode) return mode === 'navigate'
  return (ctx.headers.get('accept') ?? '').includes('text/html')
}

/** How `errorResponse` renders. */
export interface ErrorResponseOptions {
  /** the link back from an error page; default `/` */
  home?: string
  /** `html`, `json`, or `auto` (HTML for a page navigation); default `auto` */
  format?: 'auto' | 'html' | 'json'
  /** show the error's operator `hint` on an HTML page (outside production); default false */
  details?: boolean
}

/**
 * Text as the inside of an HTTP quoted-string: quotes and backslashes escaped, controls dropped,
 * characters beyond Latin-1 replaced.
 */
function quotedString(text: string): string {
  let out = ''
  for (const c of text) {
    const code = c.charCodeAt(0)
    if (code < 0x20 || code === 0x7f) continue
    // a header value is Latin-1: anything beyond would make the response fail
    out += code > 0xff ? '?' : c === '"' || c === '\\' ? `\\${c}` : c
  }
  return out
}

/** The title of an error page. */
function title(error: unknown, status: number): string {
  if (error instanceof ProviderError && error.error === 'access_denied') return 'Sign-in cancelled'
  if (status === 401) return 'Sign-in required'
  if (status === 403) return 'Not allowed'
  if (status === 503) return 'Sign-in is unavailable'
  if (status === 504) return 'The identity provider did not answer'
  if (status >= 500) return 'Sign-in failed'
  return 'Sign-in could not be completed'
}

/**
 * Renders an error for the user: an HTML page for a page navigation, JSON otherwise. Never a stack
 * trace; the message only when the error is safe to expose. Unknown errors become a plain 500.
 */
export function errorResponse(
  ctx: HttpContext,
  error: unknown,
  options: ErrorResponseOptions = {},
): AuthResponse {
  const home = options.home ?? '/'
  const known = error instanceof AuthError
  const status = known ? error.status : 500
  const code = known ? error.code : 'internal_error'
  const message = known && error.expose ? error.message : 'something went wrong on our side'
  const headers: Record<string, string> = { ...(known ? error.headers : {}) }
  if (error instanceof UnauthenticatedError) {
    headers['WWW-Authenticate'] = `Cookie realm="codeflow", login_url="${error.loginUrl}"`
  }
  if (error instanceof StepUpError) {
    // RFC 9470 §3: what the authentication lacks, for a client that can ask for it
    headers['WWW-Authenticate'] =
      `Cookie realm="codeflow", error="${quotedString(error.code)}", error_description="${quotedString(error.message)}"` +
      (error.maxAge === undefined ? '' : `, max_age="${error.maxAge}"`) +
      (error.acrValues === undefined
        ? ''
        : `, acr_values="${quotedString(error.acrValues.join(' '))}"`) +
      `, login_url="${quotedString(error.loginUrl)}"`
  }
  const format = options.format ?? 'auto'
  if (format === 'json' || (format === 'auto' && !isNavigation(ctx))) {
    return json(status, { error: code, error_description: message }, headers)
  }
  const retry =
    error instanceof UnauthenticatedError || error instanceof StepUpError
      ? `<p><a href="${escapeHtml(error.loginUrl)}">Sign in</a></p>`
      : `<p><a href="${escapeHtml(home)}">Back to the start page</a></p>`
  const hint =
    options.details && known && error.hint !== undefined
      ? `<p><small>For the developer (not shown in production): ${escapeHtml(error.hint)}</small></p>`
      : ''
  return htmlPage(
    status,
    title(error, status),
    `<p>${escapeHtml(message)}</p>${hint}${retry}`,
    headers,
  )
}

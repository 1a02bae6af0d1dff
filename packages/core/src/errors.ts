/**
 * The error hierarchy of codeflow. Every error has a stable `code`, the HTTP `status` an adapter
 * should answer with, and an `expose` flag telling whether its message is safe to show to the
 * user; many carry a `hint` for the operator: what went wrong and what to change. The original
 * error (openid-client's, a network error) is kept as `cause`.
 */

/** Options shared by every {@link AuthError}. */
export interface AuthErrorOptions {
  /** the error that caused this one, kept for logs, never shown to the user */
  cause?: unknown
  /** for the operator: the cause and what to change (no tokens, secrets or cookie values) */
  hint?: string
}

/** The base class of every error codeflow throws. */
export class AuthError extends Error {
  /** a stable, machine-readable code, e.g. `state_mismatch` */
  readonly code: string
  /** the HTTP status an adapter answers with */
  readonly status: number
  /** whether the message may be shown to the user (never true for 5xx) */
  readonly expose: boolean
  /** extra response headers, e.g. `Retry-After` */
  readonly headers: Readonly<Record<string, string>>
  /**
   * for the operator: the cause and what to change, in one line (logged; shown on error pages
   * outside production); `undefined` when the message says it all
   */
  readonly hint: string | undefined

  constructor(
    message: string,
    code: string,
    status: number,
    options?: AuthErrorOptions & { headers?: Record<string, string> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.status = status
    this.expose = status < 500
    this.headers = options?.headers ?? {}
    this.hint = options?.hint
  }
}

/** A `createAuth` option is missing or invalid. Thrown at start-up, names the option. */
export class ConfigurationError extends AuthError {
  /** the option at fault, e.g. `secret` or `routes.login` */
  readonly option: string
  constructor(option: string, message: string) {
    super(`"${option}" ${message}`, 'invalid_configuration', 500)
    this.option = option
  }
}

/**
 * The provider's discovery document could not be fetched or is invalid: 503 with `Retry-After`
 * while the provider is unreachable or failing (504 when it did not answer in time); 502 without
 * it when what it answered says the configuration is wrong (a 4xx, another issuer, no metadata),
 * which waiting does not fix. The next request tries again either way.
 */
export class DiscoveryError extends AuthError {
  constructor(
    message: string,
    options?: AuthErrorOptions & {
      retryAfter?: number
      timedOut?: boolean
      misconfigured?: boolean
    },
  ) {
    const status = options?.misconfigured ? 502 : options?.timedOut ? 504 : 503
    super(message, 'discovery_failed', status, {
      ...options,
      headers: status === 502 ? {} : { 'Retry-After': String(options?.retryAfter ?? 5) },
    })
  }
}

/** The authorization response at the callback is invalid (400). */
export class CallbackError extends AuthError {
  constructor(message: string, code = 'invalid_callback', options?: AuthErrorOptions) {
    super(message, code, 400, options)
  }
}

/** The callback has no matching login transaction cookie: expired, replayed, or another browser. */
export class MissingTransactionError extends CallbackError {
  constructor(
    message = 'no login in progress in this browser, or it expired; sign in again',
    options?: AuthErrorOptions,
  ) {
    super(message, 'missing_transaction', options)
  }
}

/** The callback's `state` matches none of this browser's pending logins. */
export class StateMismatchError extends CallbackError {
  constructor(message = '"state" does not match any login in progress in this browser') {
    super(message, 'state_mismatch')
  }
}

/** The provider answered the authorization request with an `error` parameter. */
export class ProviderError extends AuthError {
  /** the provider's `error` code, e.g. `access_denied` */
  readonly error: string
  /** the provider's `error_description`, if any */
  readonly description: string | undefined
  constructor(error: string, description: string | undefined, options?: AuthErrorOptions) {
    super(
      error === 'access_denied'
        ? `the sign-in was cancelled (access_denied${description ? `: ${description}` : ''})`
        : `the provider refused the sign-in: ${error}${description ? ` (${description})` : ''}`,
      'provider_error',
      error === 'access_denied' ? 403 : 400,
      options,
    )
    this.error = error
    this.description = description
  }
}

/** The code exchange at the token endpoint failed, or its response did not validate. */
export class TokenExchangeError extends AuthError {
  constructor(message: string, status = 502, options?: AuthErrorOptions) {
    super(message, status === 504 ? 'provider_timeout' : 'token_exchange_failed', status, options)
  }
}

/**
 * The authorization request could not be made: the pushed authorization request (RFC 9126)
 * failed (502, 504 when it did not answer in time), or signing its request object did.
 */
export class AuthorizationRequestError extends AuthError {
  constructor(message: string, status = 502, options?: AuthErrorOptions) {
    super(
      message,
      status === 504 ? 'provider_timeout' : 'authorization_request_failed',
      status,
      options,
    )
  }
}

/**
 * A resource server called with the session's token (`fetch` of a `RequestAuth`) could not be
 * reached: 502, 504 when it did not answer within the call's `timeout`.
 */
export class ResourceError extends AuthError {
  constructor(message: string, status = 502, options?: AuthErrorOptions) {
    super(message, status === 504 ? 'resource_timeout' : 'resource_unreachable', status, options)
  }
}

/** The userinfo endpoint failed or answered about another user (502, 504 on a timeout). */
export class UserinfoError extends AuthError {
  constructor(message: string, status = 502, options?: AuthErrorOptions) {
    super(message, status === 504 ? 'provider_timeout' : 'userinfo_failed', status, options)
  }
}

/** Refreshing the access token failed. `invalid_grant` ends the session (401). */
export class TokenRefreshError extends AuthError {
  /**
   * whether trying again may help: the provider could not be reached or answered 5xx; not when it
   * answered a response that does not validate (it may have rotated the refresh token already)
   */
  readonly retryable: boolean
  constructor(message: string, status = 502, options?: AuthErrorOptions & { retryable?: boolean }) {
    super(message, status === 504 ? 'provider_timeout' : 'token_refresh_failed', status, options)
    this.retryable = options?.retryable ?? false
  }
}

/** The request needs a session and has none (401); `loginUrl` is where to send a browser. */
export class UnauthenticatedError extends AuthError {
  /** the login URL with a safe `returnTo` back to the current page */
  readonly loginUrl: string
  constructor(loginUrl: string, message = 'authentication required') {
    super(message, 'unauthenticated', 401)
    this.loginUrl = loginUrl
  }
}

/** A login request whose parameters cannot be sent to the provider (400). */
export class LoginRequestError extends AuthError {
  constructor(message: string, hint?: string) {
    super(message, 'invalid_login_request', 400, hint === undefined ? undefined : { hint })
  }
}

/**
 * The session's authentication is not what the route asks (too old, another `acr`): a new login
 * with `max_age`/`acr_values` is needed (401, RFC 9470's `insufficient_user_authentication`); or
 * the login made for it did not satisfy them.
 */
export class StepUpError extends AuthError {
  /** the login URL that asks for the authentication the route needs */
  readonly loginUrl: string
  /** the `max_age` asked, seconds */
  readonly maxAge: number | undefined
  /** the `acr` values asked */
  readonly acrValues: readonly string[] | undefined
  constructor(
    message: string,
    loginUrl: string,
    asked: { maxAge?: number | undefined; acrValues?: readonly string[] | undefined },
    code = 'insufficient_user_authentication',
  ) {
    super(message, code, 401)
    this.loginUrl = loginUrl
    this.maxAge = asked.maxAge
    this.acrValues = asked.acrValues
  }
}

/** The request is authenticated but not allowed, or is a cross-site state change (403). */
export class ForbiddenError extends AuthError {
  constructor(message: string, code = 'forbidden') {
    super(message, code, 403)
  }
}

/** A route of codeflow's was asked with a method it does not accept (405, with `Allow`). */
export class MethodNotAllowedError extends AuthError {
  /** the methods the route accepts */
  readonly allowed: readonly string[]
  constructor(allowed: readonly string[]) {
    super(`use ${allowed.join(' or ')}`, 'method_not_allowed', 405, {
      headers: { Allow: allowed.join(', ') },
    })
    this.allowed = allowed
  }
}

/** A path under codeflow's route handlers that is none of its routes (404). */
export class NotFoundError extends AuthError {
  constructor(message = 'no codeflow route at this path') {
    super(message, 'not_found', 404)
  }
}

/** A form body (a logout or form_post callback) larger than `MAX_FORM_BYTES`: 413. */
export class BodyTooLargeError extends AuthError {
  constructor(limit: number) {
    super(`the request body is too large (at most ${limit} bytes)`, 'body_too_large', 413)
  }
}

/**
 * A session does not fit in the configured cookie budget even without what can be left out: the
 * provider's access and refresh tokens alone are too large for cookies (502: the sign-in cannot be
 * kept; the fix is a server-side store).
 */
export class SessionTooLargeError extends AuthError {
  constructor(bytes: number, maxChunks: number) {
    super(
      `the session needs ${bytes} bytes of cookies, more than ${maxChunks} cookie chunks can hold; ` +
        'use a server-side store ("session.store", e.g. createRedisStore from @codeflow/redis) or ' +
        'raise "session.maxCookieChunks"',
      'session_too_large',
      502,
    )
  }
}

/** The server-side session store (e.g. Redis) is unreachable or failed: 503, never anonymous. */
export class SessionStoreError extends AuthError {
  constructor(
    message = 'the session store is unavailable, try again shortly',
    options?: AuthErrorOptions,
  ) {
    super(message, 'session_store_unavailable', 503, {
      ...options,
      headers: { 'Retry-After': '5' },
    })
  }
}

/**
 * A back-channel logout request or its `logout_token` is invalid (400, OIDC Back-Channel Logout
 * 1.0 §2.8): answered as `{ "error": "invalid_request", "error_description": … }`.
 */
export class LogoutTokenError extends AuthError {
  constructor(message: string, options?: AuthErrorOptions) {
    super(message, 'invalid_request', 400, options)
  }
}

/**
 * @codeflow/core: the OpenID Connect Authorization Code Flow for any framework. Adapters build an
 * `HttpContext`, call `handleAuthRoute` and the guards, and send the `AuthResponse` they get.
 */
export { type Auth, createAuth } from './auth.js'
export { handleBackchannelLogout } from './backchannel-logout.js'
export { handleCallback } from './callback.js'
export {
  createNodeContext,
  createWebContext,
  type HttpContext,
  MAX_FORM_BYTES,
  type NodeContext,
  type WebContext,
} from './context.js'
export { type CookieAttributes, MAX_SET_COOKIE_BYTES, type SetCookie } from './cookies.js'
export {
  AuthError,
  type AuthErrorOptions,
  BodyTooLargeError,
  CallbackError,
  ConfigurationError,
  DiscoveryError,
  ForbiddenError,
  LogoutTokenError,
  MissingTransactionError,
  ProviderError,
  SessionStoreError,
  SessionTooLargeError,
  StateMismatchError,
  TokenExchangeError,
  TokenRefreshError,
  UnauthenticatedError,
} from './errors.js'
export { handleError } from './errors-render.js'
export { forwardedCookieHeader } from './forwarding.js'
export { handleFrontchannelLogout } from './frontchannel-logout.js'
export {
  type GuardOptions,
  type GuardResult,
  guard,
  guardNow,
  loginUrl,
  requireSession,
  type UnauthenticatedMode,
} from './guard.js'
export { type AuthLogEvent, type AuthLogger, report } from './logger.js'
export { handleLogin, type LoginOptions } from './login.js'
export { finishLogout, handleLogout, type LogoutOptions } from './logout.js'
export type { AuthOptions, ResolvedOptions, RoutePaths, SessionOptions } from './options.js'
export { type RequestAuth, requestAuth } from './request-auth.js'
export {
  type AuthResponse,
  type ErrorResponseOptions,
  errorResponse,
  escapeHtml,
  isNavigation,
} from './responses.js'
export { safeReturnTo } from './return-to.js'
export {
  createMemoryRevocationStore,
  type MemoryRevocationStoreOptions,
  type Revocation,
  type RevocationQuery,
  type RevocationStore,
} from './revocation.js'
export { handleAuthRoute, handleAuthRouteNow } from './routes.js'
export {
  destroySession,
  type ExtraToken,
  getSession,
  getSessionNow,
  type Session,
  type SessionData,
  type UserClaims,
} from './session.js'
export { createMemoryStore, type MemoryStoreOptions, type SessionStore } from './store.js'
export { type AccessToken, type AccessTokenOptions, getAccessToken } from './tokens.js'
export { getUserinfo } from './userinfo.js'

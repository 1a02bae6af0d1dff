/**
 * @codeflow/core: the OpenID Connect Authorization Code Flow for any framework. What an app uses:
 * `createAuth`, the session and token functions, the errors and the stores. Adapters are built on
 * `@codeflow/core/adapter`.
 */
export { Auth, createAuth } from './auth.js'
export {
  AuthError,
  type AuthErrorOptions,
  AuthorizationRequestError,
  BodyTooLargeError,
  CallbackError,
  ConfigurationError,
  DiscoveryError,
  ForbiddenError,
  LoginRequestError,
  LogoutTokenError,
  MethodNotAllowedError,
  MissingTransactionError,
  NotFoundError,
  ProviderError,
  ResourceError,
  SessionStoreError,
  SessionTooLargeError,
  StateMismatchError,
  StepUpError,
  TokenExchangeError,
  TokenRefreshError,
  UnauthenticatedError,
  UserinfoError,
} from './errors.js'
export type { HttpContext } from './http/context.js'
export { safeReturnTo } from './http/return-to.js'
export type { AuthLogEvent, AuthLogger } from './logger.js'
export type {
  AuthOptions,
  BeforeSessionSaved,
  ClientAuth,
  ClientOptions,
  CommonOptions,
  LogoutUrl,
  LogoutUrlContext,
  ProviderOptions,
  ProviderRequest,
  ProvidersOptions,
  ResolveProvider,
  RoutePaths,
  SessionOptions,
  SessionToSave,
} from './options.js'
export type { ClientCertificateOptions } from './protocol/client-certificate.js'
export type { PrivateJwk } from './protocol/client-key.js'
export type { AnonymousAuth, RequestAuth, SignedInAuth } from './request-auth.js'
export { destroySession } from './session/end.js'
export { type GuardOptions, requireSession, type UnauthenticatedMode } from './session/guard.js'
export { getSession } from './session/read.js'
export {
  createMemoryRevocationStore,
  type MemoryRevocationStoreOptions,
  type ProviderSession,
  type Revocation,
  type RevocationQuery,
  type RevocationStore,
} from './session/revocation.js'
export {
  createMemoryStore,
  type MemoryStoreOptions,
  type SessionOwner,
  type SessionStore,
} from './session/store.js'
export type {
  CustomClaims,
  ExtraToken,
  Session,
  SessionData,
  UserClaims,
} from './session/types.js'
export { type AccessToken, type AccessTokenOptions, getAccessToken } from './tokens/access-token.js'
export { fetchWithToken, type TokenFetchOptions } from './tokens/fetch.js'
export { getUserinfo } from './tokens/userinfo.js'

import type { Auth } from './auth.js'
import type { HttpContext } from './context.js'
import { authorizationUrl, loginSecrets } from './provider.js'
import { type AuthResponse, redirect } from './responses.js'
import { safeReturnTo } from './return-to.js'
import { epoch } from './session.js'
import { startTransaction } from './transaction.js'

/** Options of one login request. */
export interface LoginOptions {
  /** where to go after login; checked to be same-origin; default the `returnTo` query parameter */
  returnTo?: string
}

/**
 * Starts a login: fresh PKCE verifier (S256), state and nonce, sealed in a transaction cookie of
 * their own, then a redirect to the provider's authorization endpoint.
 */
export async function handleLogin(
  auth: Auth,
  ctx: HttpContext,
  login: LoginOptions = {},
): Promise<AuthResponse> {
  const { options } = auth
  const requested = login.returnTo ?? ctx.url.searchParams.get('returnTo')
  const returnTo = safeReturnTo(requested, options.baseUrl) ?? options.homeUrl
  const provider = await auth.provider.get()
  const secrets = await loginSecrets()
  await startTransaction(ctx, options, {
    state: secrets.state,
    nonce: secrets.nonce,
    codeVerifier: secrets.codeVerifier,
    returnTo,
    iat: epoch(options),
  })
  return redirect(authorizationUrl(provider, options, secrets))
}

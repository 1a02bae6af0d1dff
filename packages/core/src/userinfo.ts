import type { Auth } from './auth.js'
import type { HttpContext } from './context.js'
import { requireSession } from './guard.js'
import { fetchUserinfo } from './provider.js'
import { getAccessToken } from './tokens.js'

/**
 * The userinfo endpoint's claims for the signed-in user, fetched now with a valid access token
 * (refreshed when needed). Refused (502) when its `sub` is not the session's (OIDC Core 5.3.4).
 */
export async function getUserinfo(auth: Auth, ctx: HttpContext): Promise<Record<string, unknown>> {
  const session = await requireSession(auth, ctx)
  const { token } = await getAccessToken(auth, ctx)
  return fetchUserinfo(await auth.provider.get(), token, session.sub)
}

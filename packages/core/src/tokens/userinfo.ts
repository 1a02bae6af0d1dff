import { type Auth, appOf } from '../auth.js'
import type { HttpContext } from '../http/context.js'
import { fetchUserinfo } from '../protocol/provider.js'
import { requireSession } from '../session/guard.js'
import { getAccessToken } from './access-token.js'

/**
 * The userinfo endpoint's claims for the signed-in user, fetched now with a valid access token
 * (refreshed when needed). Refused with `UserinfoError` (502) when its `sub` is not the session's
 * (OIDC Core 5.3.4).
 */
export async function getUserinfo(auth: Auth, ctx: HttpContext): Promise<Record<string, unknown>> {
  const session = await requireSession(auth, ctx)
  const { token } = await getAccessToken(auth, ctx)
  const { providers } = appOf(auth)
  const provider = await providers.get(providers.ofSession(session))
  return fetchUserinfo(provider, token, session.sub, session.dpopKey)
}

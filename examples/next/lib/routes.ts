import type { Codeflow } from '@codeflow/next'

const NO_STORE = { 'Cache-Control': 'no-store' }

/** GET /api/me: the user's claims as JSON; anonymous: 401 JSON with WWW-Authenticate. */
export function meRoute(codeflow: Codeflow) {
  return codeflow.requireAuth((_request, { session }) =>
    Response.json(session.user, { headers: NO_STORE }),
  )
}

/** GET /api/token: the expiry of a valid access token (refreshed when needed), never the token. */
export function tokenRoute(codeflow: Codeflow) {
  return codeflow.requireAuth(async (_request, { accessToken }) => {
    const token = await accessToken()
    return Response.json({ expiresAt: token.expiresAt ?? null }, { headers: NO_STORE })
  })
}

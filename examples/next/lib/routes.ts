import { callApi } from '@codeflow/example-shared'
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

/**
 * GET /api/call: calls API_URL with the session's access token (refreshed first when it is about
 * to expire) and answers the API's status and body; 404 without API_URL, 502 when it cannot be
 * reached. `apiUrl` is read per request (the environment is the server's, not the build's).
 */
export function callRoute(codeflow: Codeflow, apiUrl: () => string | undefined) {
  return codeflow.requireAuth(async (_request, { fetch }) => {
    const answer = await callApi(apiUrl(), (url) => fetch(url))
    return Response.json(answer.body, { status: answer.status, headers: NO_STORE })
  })
}

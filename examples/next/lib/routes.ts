import {
  adminGuard,
  adminPage,
  callApi,
  type ExampleOptions,
  stepUpGuard,
  stepUpPage,
} from '@codeflow/example-shared'
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

const HTML = { 'Content-Type': 'text/html; charset=utf-8', ...NO_STORE }

/**
 * GET /admin: an HTML page for users whose `groups` include ADMIN_GROUP; signed in without it, a
 * 403 page; anonymous, a redirect to login. The example's options are read per request.
 */
export function adminRoute(codeflow: Codeflow, example: () => ExampleOptions) {
  return perRequest(example, (options) =>
    codeflow.requireAuth(
      (_request, { session }) => new Response(adminPage(session.user), { headers: HTML }),
      { unauthenticated: 'redirect', ...adminGuard(options) },
    ),
  )
}

/** GET /api/admin: `/admin` as JSON: 200 `{ sub }`, 403 JSON, 401 JSON. */
export function apiAdminRoute(codeflow: Codeflow, example: () => ExampleOptions) {
  return perRequest(example, (options) =>
    codeflow.requireAuth(
      (_request, { session }) => Response.json({ sub: session.user.sub }, { headers: NO_STORE }),
      { unauthenticated: 'json', ...adminGuard(options) },
    ),
  )
}

/**
 * GET /step-up: an HTML page that needs a sign-in at most STEP_UP_MAX_AGE seconds old (and of
 * STEP_UP_ACR): an older one is sent to the provider with max_age (and acr_values).
 */
export function stepUpRoute(codeflow: Codeflow, example: () => ExampleOptions) {
  return perRequest(example, (options) =>
    codeflow.requireAuth(
      (_request, { session }) => new Response(stepUpPage(session), { headers: HTML }),
      { unauthenticated: 'redirect', ...stepUpGuard(options) },
    ),
  )
}

/** A route handler made for each request's example options (the server's environment). */
function perRequest<Context>(
  example: () => ExampleOptions,
  make: (options: ExampleOptions) => (request: Request, context: Context) => Promise<Response>,
) {
  return (request: Request, context: Context) => make(example())(request, context)
}
